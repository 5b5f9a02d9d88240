"""The event-sourced write path for SDK users: memories become ``MemoryWritten`` events on Kafka.

``MemoryClient.write(lines, wait=True)`` validates every line first (nothing is published if one
is bad), publishes the events, waits for Kafka's acknowledgements and then, with ``wait``, until
the consolidation processor (``agentic memory process``) has made every memory searchable in
Weaviate, either as itself or merged into another memory (its id in ``source_memory_ids``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from agentic.connectors.embeddings import check_vector
from agentic.connectors.weaviate import WeaviateMemoryStore
from agentic.memory.lines import MemoryInputError, parse_line
from agentic.sdk import AgenticClient
from agentic.streams.memory import WriteMemory


class MemoryNotVisible(TimeoutError):
    """Some memories were published but are not searchable yet (processor down, or a write rejected)."""


class MemoryClient:
    def __init__(self, client: AgenticClient, store: WeaviateMemoryStore, poll_s: float = 0.1) -> None:
        self._client = client
        self._store = store
        self._poll = poll_s

    def _event(self, cmd: WriteMemory) -> Any:
        fields: dict[str, Any] = {
            "memory_id": cmd.memory_id, "agent_id": cmd.agent_id, "session_id": cmd.session_id,
            "memory_type": cmd.memory_type.value, "content": cmd.content, "metadata": dict(cmd.metadata),
            "importance": cmd.importance, "ttl_ms": cmd.ttl_ms, "source_refs": list(cmd.source_refs),
            "embedding": list(cmd.embedding) or None,
            "envelope": {"event_id": None, "occurred_at": cmd.occurred_at or None},
        }
        fields["envelope"] = {k: v for k, v in fields["envelope"].items() if v is not None}
        return self._client.build("MemoryWritten", fields, tenant=cmd.tenant)

    def write(self, lines: Sequence[Mapping[str, Any]], wait: bool = True, timeout: float = 30.0) -> list[str]:
        """Publish the memories; with ``wait``, return once all are searchable. Returns their ids."""
        commands = [parse_line(obj, n) for n, obj in enumerate(lines, start=1)]
        for n, cmd in enumerate(commands, start=1):
            try:
                check_vector(cmd.embedding or None, self._store.dim)
            except ValueError as exc:
                raise MemoryInputError(f"line {n}: {exc}") from exc
        self._client.publish([self._event(c) for c in commands])
        if wait:
            self.wait_searchable([(c.tenant, c.memory_id) for c in commands], timeout)
        return [c.memory_id for c in commands]

    def wait_searchable(self, keys: Sequence[tuple[str, str]], timeout: float) -> None:
        pending = set(keys)
        deadline = time.monotonic() + timeout
        while pending:
            by_tenant: dict[str, set[str]] = {}
            for tenant, memory_id in pending:
                by_tenant.setdefault(tenant, set()).add(memory_id)
            for tenant, ids in by_tenant.items():
                for found in self._store.present(tenant, sorted(ids)):
                    pending.discard((tenant, found))
            if not pending:  # stored; with ASYNC_INDEXING the vectors may still be queued
                self._store.wait_indexed({t for t, _ in keys}, max(0.0, deadline - time.monotonic()))
                return
            if time.monotonic() > deadline:
                sample = sorted(pending)[:3]
                raise MemoryNotVisible(f"{len(pending)} memories not searchable after {timeout:.0f}s, e.g. "
                                       f"{sample}; is `agentic memory process` running? A rejected write "
                                       "(tombstoned id) never becomes searchable.")
            time.sleep(self._poll)
