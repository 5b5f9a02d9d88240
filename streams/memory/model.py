"""Data of the memory consolidation core: its inputs, its outputs and its state. All frozen.

These are the core's own types; the shell maps the Avro event classes of ``agentic.events``
onto them (and back), so the core does not depend on the wire format.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Generic, TypeVar, overload

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float64]
V = TypeVar("V")


class MemoryType(StrEnum):
    SHORT_TERM = "SHORT_TERM"
    WORKING = "WORKING"
    LONG_TERM = "LONG_TERM"
    EPISODIC = "EPISODIC"
    SEMANTIC = "SEMANTIC"


class DeleteScope(StrEnum):
    MEMORY = "MEMORY"
    SESSION = "SESSION"
    TENANT = "TENANT"


def frozen_map(items: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only view of a copy: state mappings are never mutated after construction."""
    return MappingProxyType(dict(items or {}))


# ---- inputs ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WriteMemory:
    event_id: str
    occurred_at: int  # event time, ms since the epoch; the only clock the core knows
    tenant: str
    agent_id: str
    session_id: str
    memory_id: str
    memory_type: MemoryType
    content: str
    embedding: tuple[float, ...]
    metadata: tuple[tuple[str, str], ...] = ()
    importance: float | None = None
    ttl_ms: int | None = None
    source_refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AccessMemory:
    event_id: str
    occurred_at: int
    tenant: str
    memory_id: str


@dataclass(frozen=True, slots=True)
class DeleteMemory:
    """A tombstone: by memory id, by session id, or the whole tenant (``target`` unused)."""

    event_id: str
    occurred_at: int
    tenant: str
    scope: DeleteScope
    target: str = ""


@dataclass(frozen=True, slots=True)
class Tick:
    """Event time moved on (e.g. a partition's watermark): expire what is due in every tenant."""

    event_id: str
    occurred_at: int


Command = WriteMemory | AccessMemory | DeleteMemory | Tick


# ---- state -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Memory:
    """A stored memory with its provenance: every memory id and event id merged into it."""

    memory_id: str
    tenant: str
    agent_id: str
    session_id: str
    memory_type: MemoryType
    content: str
    embedding: tuple[float, ...]
    metadata: tuple[tuple[str, str], ...]
    importance: float
    created_at: int
    last_seen_at: int  # latest write or access time: drives recency decay
    access_count: int
    expires_at: int | None
    source_memory_ids: tuple[str, ...]
    source_event_ids: tuple[str, ...]
    source_refs: tuple[str, ...]
    content_hash: str
    # the contents of the memories stored just before this one in its session (arrival order, see
    # MemoryConfig.context_memories), or "": indexed for keyword search with this memory's own
    # words, so a reply ("Yes, last week!") is found by the words of the turns it answers
    context: str = ""
    # the ids of the memories whose contents make up `context`: when one of them is deleted or expires,
    # its words are taken out of this memory's context too (a deletion leaves no copy behind)
    context_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Fact:
    """A semantic triple with its validity interval (valid_to None while it holds)."""

    subject: str
    predicate: str
    object: str
    confidence: float
    valid_from: int
    valid_to: int | None
    memory_id: str
    event_id: str


_BUCKETS = 64


def _bucket(key: str) -> int:
    return zlib.crc32(key.encode()) % _BUCKETS  # stable across processes, unlike hash()


def _empty_buckets() -> tuple[Mapping[str, Any], ...]:
    empty: Mapping[str, Any] = MappingProxyType({})
    return (empty,) * _BUCKETS


@dataclass(frozen=True, slots=True)
class PMap(Generic[V]):
    """A small persistent map: 64 read-only buckets, so a change copies one bucket, not the map.

    Iteration is in sorted key order, so everything derived from it is deterministic.
    """

    buckets: tuple[Mapping[str, V], ...] = field(default_factory=_empty_buckets)

    @overload
    def get(self, key: str) -> V | None: ...

    @overload
    def get(self, key: str, default: V) -> V: ...

    def get(self, key: str, default: V | None = None) -> V | None:
        return self.buckets[_bucket(key)].get(key, default)

    def __getitem__(self, key: str) -> V:
        return self.buckets[_bucket(key)][key]

    def __contains__(self, key: str) -> bool:
        return key in self.buckets[_bucket(key)]

    def __len__(self) -> int:
        return sum(len(b) for b in self.buckets)

    def set(self, key: str, value: V | None) -> PMap[V]:
        """A new map with ``key`` bound to ``value``, or removed when ``value`` is None."""
        i = _bucket(key)
        items = dict(self.buckets[i])
        if value is None:
            items.pop(key, None)
        else:
            items[key] = value
        return PMap((*self.buckets[:i], MappingProxyType(items), *self.buckets[i + 1:]))

    def sorted_keys(self) -> list[str]:
        return sorted(k for b in self.buckets for k in b)

    def items(self) -> list[tuple[str, V]]:
        return [(k, self[k]) for k in self.sorted_keys()]

    def values(self) -> list[V]:
        return [self[k] for k in self.sorted_keys()]


def _empty_vectors() -> Vectors:
    return np.zeros((0, 0), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class SessionState:
    """A session's memories in arrival order, and their unit vectors as one read-only matrix
    (row i belongs to memories[i]) so a near-duplicate scan is one matrix-vector product."""

    memories: tuple[Memory, ...] = ()
    vectors: Vectors = field(default_factory=_empty_vectors)


@dataclass(frozen=True, slots=True)
class TenantState:
    sessions: PMap[SessionState] = field(default_factory=PMap)
    facts: tuple[Fact, ...] = ()
    deleted_memory_ids: frozenset[str] = frozenset()
    deleted_sessions: Mapping[str, int] = field(default_factory=frozen_map)  # session -> time
    deleted_at: int | None = None  # tenant tombstone time
    next_expiry: int | None = None  # lower bound of the earliest expires_at: no scan before it


@dataclass(frozen=True, slots=True)
class MemoryState:
    tenants: PMap[TenantState] = field(default_factory=PMap)


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    """Consolidation policy. ``near_duplicate_threshold`` is a cosine similarity in [0, 1]."""

    near_duplicate_threshold: float = 0.95
    session_cap: int = 500
    keep_recent: int = 50  # the most recent memories a cap never evicts
    half_life_ms: int = 7 * 24 * 3600 * 1000
    access_boost: float = 0.05
    max_access_boost: float = 0.3
    # how many of the session's previous memories a new memory's keyword side also indexes (0: none).
    # LoCoMo recall@10 on held-out conversations: 0: 0.62, 1: 0.69, 2: 0.73, 3: 0.71 (docs/memory.md)
    context_memories: int = 2


# ---- outputs -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MemoryStored:
    """Upsert this memory in the read models (new, or changed by a merge)."""

    memory: Memory
    cause_event_id: str


@dataclass(frozen=True, slots=True)
class MemoryConsolidated:
    result_memory_id: str
    merged_memory_ids: tuple[str, ...]
    source_event_ids: tuple[str, ...]
    reason: str  # "exact_duplicate" | "near_duplicate"
    similarity: float
    cause_event_id: str


@dataclass(frozen=True, slots=True)
class MemoryExpired:
    tenant: str
    memory_id: str
    reason: str  # "ttl" | "session_cap"
    at: int
    cause_event_id: str


@dataclass(frozen=True, slots=True)
class MemoryRemoved:
    """Delete these memory ids from every read model (the tombstone applied)."""

    tenant: str
    scope: DeleteScope
    target: str
    memory_ids: tuple[str, ...]
    cause_event_id: str


@dataclass(frozen=True, slots=True)
class TripleAsserted:
    tenant: str
    fact: Fact
    cause_event_id: str


@dataclass(frozen=True, slots=True)
class WriteRejected:
    tenant: str
    memory_id: str
    field: str
    rule: str
    cause_event_id: str


Output = MemoryStored | MemoryConsolidated | MemoryExpired | MemoryRemoved | TripleAsserted | WriteRejected
