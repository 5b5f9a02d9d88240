"""Mapping between the Avro event classes (``agentic.events``) and the core's own types.

Pure: the consolidation processor's shell decodes a record, calls :func:`command_of`, fills a
missing embedding with the configured embedder, runs ``apply`` and publishes
:func:`events_of`'s output. Output event ids are uuid5 of the causing event id and the output's
position, so a replay publishes byte-identical events.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentic import events as ev
from agentic.events import derived_event_id
from agentic.streams.memory.model import (
    AccessMemory,
    Command,
    DeleteMemory,
    DeleteScope,
    Fact,
    MemoryConsolidated,
    MemoryExpired,
    MemoryStored,
    MemoryType,
    Output,
    TripleAsserted,
    WriteMemory,
)

SOURCE = "memory-consolidator"


def command_of(event: object) -> Command | None:
    """The core command of a memory event, or None for events the core does not consume."""
    if isinstance(event, ev.MemoryWritten):
        e = event.envelope
        return WriteMemory(
            event_id=e.event_id, occurred_at=e.occurred_at, tenant=e.tenant, agent_id=event.agent_id,
            session_id=event.session_id, memory_id=event.memory_id,
            memory_type=MemoryType(str(event.memory_type)), content=event.content,
            embedding=tuple(event.embedding or ()), metadata=tuple(sorted(event.metadata.items())),
            importance=event.importance, ttl_ms=event.ttl_ms, source_refs=tuple(event.source_refs),
        )
    if isinstance(event, ev.MemoryAccessed):
        e = event.envelope
        return AccessMemory(e.event_id, e.occurred_at, e.tenant, event.memory_id)
    if isinstance(event, ev.MemoryDeleted):
        e = event.envelope
        scope = DeleteScope(str(event.scope))
        target = {DeleteScope.MEMORY: event.memory_id, DeleteScope.SESSION: event.session_id}.get(scope) or ""
        return DeleteMemory(e.event_id, e.occurred_at, e.tenant, scope, target)
    return None


def triple_id(tenant: str, fact: Fact) -> str:
    return derived_event_id("triple", tenant, fact.subject.lower(), fact.predicate.lower(), fact.object,
                            str(fact.valid_from), fact.memory_id)


def _envelope(cause: ev.Envelope, index: int, event_type: str) -> ev.Envelope:
    return ev.Envelope(event_id=derived_event_id(cause.event_id, "memory", str(index)), event_type=event_type,
                       occurred_at=cause.occurred_at, tenant=cause.tenant, source=SOURCE,
                       correlation_id=cause.correlation_id, causation_id=cause.event_id)


def events_of(outputs: Sequence[Output], cause: ev.Envelope) -> list[object]:
    """The events the processor publishes for the outputs of one input event."""
    out: list[object] = []
    closed: list[str] = []
    for i, o in enumerate(outputs):
        if isinstance(o, MemoryConsolidated):
            method = ev.ConsolidationMethod.EXACT_DUPLICATE if o.reason == "exact_duplicate" \
                else ev.ConsolidationMethod.NEAR_DUPLICATE
            memory = next((s.memory for s in outputs
                           if isinstance(s, MemoryStored) and s.memory.memory_id == o.result_memory_id), None)
            out.append(ev.MemoryConsolidated(
                envelope=_envelope(cause, i, "MemoryConsolidated"), result_memory_id=o.result_memory_id,
                source_ids=o.merged_memory_ids, source_event_ids=o.source_event_ids,
                merged_content=memory.content if memory else "", method=method, similarity=o.similarity,
                importance=memory.importance if memory else None,
                session_id=memory.session_id if memory else None))
        elif isinstance(o, MemoryExpired):
            reason = ev.ExpiryReason.TTL if o.reason == "ttl" else ev.ExpiryReason.SESSION_CAP
            out.append(ev.MemoryExpired(envelope=_envelope(cause, i, "MemoryExpired"),
                                        memory_id=o.memory_id, reason=reason))
        elif isinstance(o, TripleAsserted):
            f = o.fact
            tid = triple_id(o.tenant, f)
            if f.valid_to is not None and f.valid_to == cause.occurred_at and f.event_id != cause.event_id:
                closed.append(tid)
            out.append(ev.TripleAsserted(
                envelope=_envelope(cause, i, "TripleAsserted"), triple_id=tid, subject=f.subject,
                predicate=f.predicate, object=f.object, confidence=f.confidence, valid_from_ms=f.valid_from,
                valid_to_ms=f.valid_to, source_memory_id=f.memory_id,
                supersedes_triple_id=closed[0] if closed and f.event_id == cause.event_id else None))
    return out
