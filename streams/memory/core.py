"""The memory consolidation core: ``apply(state, command, config) -> (state, outputs)``.

Pure and deterministic: no I/O, no wall clock (time is the event's ``occurred_at``), no
randomness. Replaying the same commands from an empty state gives the same state and outputs.

Rules, in the order a write meets them:
1. a write that breaks a rule (empty content, bad vector, importance outside [0, 1], ...) is
   rejected with the field and the rule; the state does not change;
2. tombstones win: a write for a deleted memory id, or older than its session's or tenant's
   deletion, is rejected, so a replay or a redelivery cannot resurrect it;
3. memories whose TTL has passed at this event's time expire first;
4. the same event delivered twice changes nothing;
5. an exact duplicate (same normalised content and type in the session) and a near-duplicate
   (cosine >= threshold, and the same numbers and capitalised names) are merged into the existing
   memory, which keeps every source memory id and event id;
6. a session above its cap evicts the memory with the lowest decayed importance, never one of the
   ``keep_recent`` newest;
7. a SEMANTIC memory with ``subject``/``predicate``/``object`` metadata asserts a fact; a newer
   fact with the same subject and predicate and another object closes the older one (valid_to).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from agentic.streams.memory.model import (
    AccessMemory,
    Command,
    DeleteMemory,
    DeleteScope,
    Fact,
    Memory,
    MemoryConfig,
    MemoryConsolidated,
    MemoryExpired,
    MemoryRemoved,
    MemoryState,
    MemoryStored,
    Output,
    SessionState,
    TenantState,
    Tick,
    TripleAsserted,
    Vectors,
    WriteMemory,
    WriteRejected,
    frozen_map,
)
from agentic.streams.memory.scoring import (
    content_hash,
    effective_importance,
    heuristic_importance,
    key_terms,
    unit,
)

Result = tuple[MemoryState, tuple[Output, ...]]


DEFAULT_CONFIG = MemoryConfig()


def apply(state: MemoryState, command: Command, config: MemoryConfig = DEFAULT_CONFIG) -> Result:
    """Apply one command; the single entry point of the core."""
    if isinstance(command, WriteMemory):
        return _write(state, command, config)
    if isinstance(command, AccessMemory):
        return _access(state, command), ()
    if isinstance(command, DeleteMemory):
        return _delete(state, command)
    if isinstance(command, Tick):
        return _tick(state, command)
    raise TypeError(f"command: unsupported type {type(command).__name__}")


def replay(commands: list[Command], config: MemoryConfig = DEFAULT_CONFIG) -> Result:
    """Fold commands from the empty state (used by tests and the replay verifier)."""
    state, outputs = MemoryState(), list[Output]()
    for command in commands:
        state, out = apply(state, command, config)
        outputs.extend(out)
    return state, tuple(outputs)


# ---- helpers on immutable state -----------------------------------------------------------------

def _with(mapping: Mapping[str, Any], key: str, value: Any) -> Mapping[str, Any]:
    """A new read-only mapping with ``key`` set to ``value`` (removed when value is None)."""
    items = dict(mapping)
    if value is None:
        items.pop(key, None)
    else:
        items[key] = value
    result: Mapping[str, Any] = frozen_map(items)
    return result


def _put_tenant(state: MemoryState, name: str, tenant: TenantState) -> MemoryState:
    return MemoryState(state.tenants.set(name, tenant))


def _put_session(tenant: TenantState, name: str, session: SessionState | None) -> TenantState:
    return replace(tenant, sessions=tenant.sessions.set(name, session))


def _readonly(arr: Vectors) -> Vectors:
    arr.setflags(write=False)
    return arr


def _session_of(memories: tuple[Memory, ...]) -> SessionState:
    if not memories:
        return SessionState()
    return SessionState(memories, _readonly(np.stack([unit(m.embedding) for m in memories])))


def _append(session: SessionState, memory: Memory, vector: Vectors) -> SessionState:
    row = vector[None, :]
    vectors = row if not session.memories else np.vstack([session.vectors, row])
    return SessionState((*session.memories, memory), _readonly(vectors))


def _replace_at(session: SessionState, index: int, memory: Memory) -> SessionState:
    memories = (*session.memories[:index], memory, *session.memories[index + 1:])
    vectors = session.vectors.copy()
    vectors[index] = unit(memory.embedding)
    return SessionState(memories, _readonly(vectors))


def _drop(session: SessionState, indices: set[int]) -> SessionState:
    keep = [i for i in range(len(session.memories)) if i not in indices]
    if not keep:
        return SessionState()
    return SessionState(tuple(session.memories[i] for i in keep), _readonly(session.vectors[keep]))


def _remove(session: SessionState, indices: set[int], cause: str) -> tuple[SessionState, list[Output]]:
    """The session without the memories at `indices`, and their contents taken out of the context of
    the memories that quoted them (`_scrub_context`): a removal leaves no copy of their words behind."""
    gone = {m for i in indices for m in _ids_of(session.memories[i])}
    return _scrub_context(_drop(session, indices), gone, cause)


def _scrub_context(session: SessionState, removed: set[str], cause: str) -> tuple[SessionState, list[Output]]:
    """Take the contents of removed memories out of the context of the memories that quoted them: the context
    keeps only its sources still in the session, and each memory so changed is stored again."""
    contents = {m.memory_id: m.content for m in session.memories}
    memories = list(session.memories)
    outputs: list[Output] = []
    for i, m in enumerate(memories):
        if not removed.intersection(m.context_ids):
            continue
        kept = tuple(c for c in m.context_ids if c not in removed and c in contents)
        memories[i] = replace(m, context="\n".join(contents[c] for c in kept), context_ids=kept)
        outputs.append(MemoryStored(memories[i], cause))
    if not outputs:
        return session, []
    return SessionState(tuple(memories), session.vectors), outputs


def _ids_of(memory: Memory) -> tuple[str, ...]:
    return (memory.memory_id, *(m for m in memory.source_memory_ids if m != memory.memory_id))


# ---- write --------------------------------------------------------------------------------------

def validate(w: WriteMemory, dim: int | None = None) -> tuple[str, str] | None:
    """The first broken rule of a write as (field, rule), or None when it is valid."""
    if not w.tenant.strip():
        return "tenant", "must be a non-empty string"
    if not w.memory_id.strip():
        return "memory_id", "must be a non-empty string"
    if not w.session_id.strip():
        return "session_id", "must be a non-empty string"
    if not w.content.strip():
        return "content", "must contain non-whitespace text"
    if not w.embedding:
        return "embedding", "must be a non-empty vector"
    if dim is not None and len(w.embedding) != dim:
        return "embedding", (f"must have {dim} dimensions like the session's other memories, "
                             f"got {len(w.embedding)}")
    arr = np.asarray(w.embedding, dtype=np.float64)
    if not bool(np.isfinite(arr).all()) or not bool(arr.any()):
        return "embedding", "must be finite and not all zeros"
    if w.importance is not None and not 0.0 <= w.importance <= 1.0:
        return "importance", f"must be within [0, 1] or null, got {w.importance}"
    if w.ttl_ms is not None and w.ttl_ms <= 0:
        return "ttl_ms", f"must be a positive number of milliseconds or null, got {w.ttl_ms}"
    return None


def _tombstoned(tenant: TenantState, w: WriteMemory) -> str | None:
    if tenant.deleted_at is not None and w.occurred_at <= tenant.deleted_at:
        return "tenant was deleted after this write; it cannot be written back"
    if w.memory_id in tenant.deleted_memory_ids:
        return "memory id was deleted; write under a new memory_id"
    deleted = tenant.deleted_sessions.get(w.session_id)
    if deleted is not None and w.occurred_at <= deleted:
        return "session was deleted after this write; it cannot be written back"
    return None


def _new_memory(w: WriteMemory) -> Memory:
    importance = w.importance if w.importance is not None else heuristic_importance(w.memory_type, w.content)
    return Memory(
        memory_id=w.memory_id, tenant=w.tenant, agent_id=w.agent_id, session_id=w.session_id,
        memory_type=w.memory_type, content=w.content, embedding=w.embedding, metadata=w.metadata,
        importance=importance, created_at=w.occurred_at, last_seen_at=w.occurred_at, access_count=0,
        expires_at=None if w.ttl_ms is None else w.occurred_at + w.ttl_ms,
        source_memory_ids=(w.memory_id,), source_event_ids=(w.event_id,), source_refs=w.source_refs,
        content_hash=content_hash(w.content),
    )


def _merge(kept: Memory, new: Memory) -> Memory:
    """Merge ``new`` into ``kept``: the longer content wins (ties keep the older), provenance adds up."""
    longer = new if len(new.content) > len(kept.content) else kept
    expiries = [e for e in (kept.expires_at, new.expires_at) if e is not None]
    return replace(
        kept,
        content=longer.content, embedding=longer.embedding, content_hash=longer.content_hash,
        importance=max(kept.importance, new.importance),
        last_seen_at=max(kept.last_seen_at, new.last_seen_at),
        expires_at=None if kept.expires_at is None or new.expires_at is None else max(expiries),
        source_memory_ids=kept.source_memory_ids + tuple(
            m for m in new.source_memory_ids if m not in kept.source_memory_ids),
        source_event_ids=kept.source_event_ids + tuple(
            e for e in new.source_event_ids if e not in kept.source_event_ids),
        source_refs=kept.source_refs + tuple(r for r in new.source_refs if r not in kept.source_refs),
        metadata=kept.metadata + tuple(kv for kv in new.metadata if kv not in kept.metadata),
    )


def _find_duplicate(session: SessionState, memory: Memory, vector: Vectors,
                    threshold: float) -> tuple[int, str, float] | None:
    for i, m in enumerate(session.memories):
        if m.content_hash == memory.content_hash and m.memory_type == memory.memory_type:
            return i, "exact_duplicate", 1.0
    if not session.memories or session.vectors.shape[1] != len(memory.embedding):
        return None
    sims = session.vectors @ vector
    if float(sims.max()) < threshold:
        return None
    same_type = np.array([m.memory_type == memory.memory_type for m in session.memories])
    sims = np.where(same_type, sims, -np.inf)
    terms = key_terms(memory.content)
    for best in np.argsort(-sims, kind="stable"):
        if float(sims[best]) < threshold:
            break
        if key_terms(session.memories[int(best)].content) == terms:
            return int(best), "near_duplicate", round(float(sims[best]), 6)
    return None


def _write(state: MemoryState, w: WriteMemory, config: MemoryConfig) -> Result:
    tenant = state.tenants.get(w.tenant, TenantState())
    session = tenant.sessions.get(w.session_id, SessionState())
    dim = session.vectors.shape[1] if session.memories else None
    broken = validate(w, dim)
    if broken is None:
        why = _tombstoned(tenant, w)
        broken = None if why is None else ("memory_id", why)
    if broken is not None:
        return state, (WriteRejected(w.tenant, w.memory_id, broken[0], broken[1], w.event_id),)
    if any(w.event_id in m.source_event_ids for m in session.memories):
        return state, ()  # redelivery of an event already applied
    tenant, outputs = _expire_tenant(tenant, w.tenant, w.occurred_at, w.event_id)
    session = tenant.sessions.get(w.session_id, SessionState())
    memory = _new_memory(w)
    vector = unit(w.embedding)
    dup = _find_duplicate(session, memory, vector, config.near_duplicate_threshold)
    if dup is not None:
        index, reason, similarity = dup
        merged = _merge(session.memories[index], memory)
        session = _replace_at(session, index, merged)
        outputs += [MemoryConsolidated(merged.memory_id, merged.source_memory_ids, merged.source_event_ids,
                                       reason, similarity, w.event_id), MemoryStored(merged, w.event_id)]
    else:
        if config.context_memories > 0 and session.memories:
            before = session.memories[-config.context_memories:]
            memory = replace(memory, context="\n".join(m.content for m in before),
                             context_ids=tuple(m.memory_id for m in before))
        session = _append(session, memory, vector)
        outputs.append(MemoryStored(memory, w.event_id))
        session, evicted = _enforce_cap(session, w.occurred_at, config, w.event_id)
        outputs += evicted
    tenant = _put_session(tenant, w.session_id, session)
    if memory.expires_at is not None:
        soonest = memory.expires_at if tenant.next_expiry is None else min(tenant.next_expiry, memory.expires_at)
        tenant = replace(tenant, next_expiry=soonest)
    if dup is None:
        tenant, fact_outputs = _assert_fact(tenant, memory, w.event_id)
        outputs += fact_outputs
    return _put_tenant(state, w.tenant, tenant), tuple(outputs)


def _enforce_cap(session: SessionState, now: int, config: MemoryConfig,
                 cause: str) -> tuple[SessionState, list[Output]]:
    if len(session.memories) <= config.session_cap:
        return session, []
    by_recency = sorted(range(len(session.memories)),
                        key=lambda i: (session.memories[i].created_at, i), reverse=True)
    candidates = by_recency[config.keep_recent:]
    victim = min(candidates, key=lambda i: (effective_importance(session.memories[i], now, config),
                                            session.memories[i].created_at, i))
    gone = session.memories[victim]
    session, restored = _remove(session, {victim}, cause)
    return session, [MemoryExpired(gone.tenant, gone.memory_id, "session_cap", now, cause), *restored]


# ---- facts --------------------------------------------------------------------------------------

def _assert_fact(tenant: TenantState, memory: Memory, event_id: str) -> tuple[TenantState, list[Output]]:
    meta = dict(memory.metadata)
    if memory.memory_type != "SEMANTIC" or not all(meta.get(k) for k in ("subject", "predicate", "object")):
        return tenant, []
    key = (meta["subject"].strip().lower(), meta["predicate"].strip().lower())
    new_obj = meta["object"].strip()
    at = memory.created_at
    same_key = [f for f in tenant.facts if (f.subject.lower(), f.predicate.lower()) == key]
    holds = [f for f in same_key if f.valid_to is None and f.valid_from <= at]
    if any(f.object.lower() == new_obj.lower() for f in holds):
        return tenant, []  # the fact already holds
    later = [f.valid_from for f in same_key if f.valid_from > at]
    fact = Fact(meta["subject"].strip(), meta["predicate"].strip(), new_obj, memory.importance,
                at, min(later) if later else None, memory.memory_id, event_id)
    outputs: list[Output] = []
    facts: list[Fact] = []
    for f in tenant.facts:
        if f in holds and f.object.lower() != new_obj.lower():
            f = replace(f, valid_to=at)
            outputs.append(TripleAsserted(memory.tenant, f, event_id))
        facts.append(f)
    outputs.append(TripleAsserted(memory.tenant, fact, event_id))
    return replace(tenant, facts=(*facts, fact)), outputs


# ---- access, delete, expiry ---------------------------------------------------------------------

def _locate(tenant: TenantState, memory_id: str) -> tuple[str, int] | None:
    for name, session in tenant.sessions.items():
        for i, m in enumerate(session.memories):
            if memory_id == m.memory_id or memory_id in m.source_memory_ids:
                return name, i
    return None


def _access(state: MemoryState, a: AccessMemory) -> MemoryState:
    tenant = state.tenants.get(a.tenant)
    found = None if tenant is None else _locate(tenant, a.memory_id)
    if tenant is None or found is None:
        return state
    name, i = found
    session = tenant.sessions[name]
    m = session.memories[i]
    touched = replace(m, access_count=m.access_count + 1, last_seen_at=max(m.last_seen_at, a.occurred_at))
    memories = (*session.memories[:i], touched, *session.memories[i + 1:])
    return _put_tenant(state, a.tenant, _put_session(tenant, name, SessionState(memories, session.vectors)))


def _delete(state: MemoryState, d: DeleteMemory) -> Result:
    tenant = state.tenants.get(d.tenant, TenantState())
    if d.scope is DeleteScope.TENANT:
        ids = tuple(i for s in tenant.sessions.values() for m in s.memories for i in _ids_of(m))
        gone = TenantState(deleted_at=max(d.occurred_at, tenant.deleted_at or d.occurred_at))
        return _put_tenant(state, d.tenant, gone), (MemoryRemoved(d.tenant, d.scope, "", ids, d.event_id),)
    restored: list[Output] = []
    if d.scope is DeleteScope.SESSION:
        session = tenant.sessions.get(d.target, SessionState())
        ids = tuple(i for m in session.memories for i in _ids_of(m))
        tenant = _put_session(tenant, d.target, None)
        previous = tenant.deleted_sessions.get(d.target, d.occurred_at)
        tenant = replace(tenant, deleted_sessions=_with(tenant.deleted_sessions, d.target,
                                                        max(previous, d.occurred_at)),
                         deleted_memory_ids=tenant.deleted_memory_ids | set(ids))
    else:
        found = _locate(tenant, d.target)
        ids = (d.target,)
        if found is not None:
            name, i = found
            ids = _ids_of(tenant.sessions[name].memories[i])
            remaining, restored = _remove(tenant.sessions[name], {i}, d.event_id)
            tenant = _put_session(tenant, name, remaining if remaining.memories else None)
        tenant = replace(tenant, deleted_memory_ids=tenant.deleted_memory_ids | {d.target, *ids})
    tenant = _drop_facts(tenant, set(ids))
    removed = MemoryRemoved(d.tenant, d.scope, d.target, ids, d.event_id)
    return _put_tenant(state, d.tenant, tenant), (removed, *restored)


def _drop_facts(tenant: TenantState, memory_ids: set[str]) -> TenantState:
    return replace(tenant, facts=tuple(f for f in tenant.facts if f.memory_id not in memory_ids))


def _expire_tenant(tenant: TenantState, name: str, now: int, cause: str) -> tuple[TenantState, list[Output]]:
    if tenant.next_expiry is None or now < tenant.next_expiry:
        return tenant, []
    outputs: list[Output] = []
    for session_name in tenant.sessions.sorted_keys():
        session = tenant.sessions[session_name]
        due = {i for i, m in enumerate(session.memories) if m.expires_at is not None and m.expires_at <= now}
        if not due:
            continue
        outputs += [MemoryExpired(name, session.memories[i].memory_id, "ttl", now, cause)
                    for i in sorted(due)]
        remaining, restored = _remove(session, due, cause)
        outputs += restored
        tenant = _put_session(tenant, session_name, remaining if remaining.memories else None)
    left = [m.expires_at for s in tenant.sessions.values() for m in s.memories if m.expires_at is not None]
    return replace(tenant, next_expiry=min(left) if left else None), outputs


def _tick(state: MemoryState, t: Tick) -> Result:
    outputs: list[Output] = []
    for name in state.tenants.sorted_keys():
        tenant, out = _expire_tenant(state.tenants[name], name, t.occurred_at, t.event_id)
        if out:
            state = _put_tenant(state, name, tenant)
            outputs += out
    return state, tuple(outputs)
