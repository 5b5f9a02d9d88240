"""The memory projection: the consolidation core's outputs into the Weaviate memory collection."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from agentic.connectors.weaviate import MemoryRecord, WeaviateMemoryStore
from agentic.projections.weaviate.framework import BatchOutcome, Sourced, next_offsets
from agentic.streams.memory import (
    Memory,
    MemoryConsolidated,
    MemoryExpired,
    MemoryRemoved,
    MemoryStored,
    TripleAsserted,
    WriteRejected,
)
from agentic.streams.memory.model import DeleteScope, Output

log = structlog.get_logger(__name__)


def record_of(m: Memory) -> MemoryRecord:
    return MemoryRecord(
        tenant=m.tenant, memory_id=m.memory_id, agent_id=m.agent_id, session_id=m.session_id,
        memory_type=str(m.memory_type), content=m.content, vector=m.embedding, created_at=m.created_at,
        importance=m.importance, expires_at=m.expires_at, source_memory_ids=m.source_memory_ids,
        source_event_ids=m.source_event_ids, source_refs=m.source_refs, metadata=dict(m.metadata),
        context=m.context, context_ids=m.context_ids,
    )


class MemoryProjection:
    """Applies outputs in order; consecutive upserts go to Weaviate as one batch (last write wins)."""

    def __init__(self, store: WeaviateMemoryStore, target: str | None = None) -> None:
        self._store = store
        self._target = target

    def setup(self) -> None:
        if self._target is None:
            self._store.ensure_schema()

    def apply(self, batch: Sequence[Sourced[Output]]) -> BatchOutcome:
        failed: list[tuple[str, str]] = []
        pending: dict[tuple[str, str], MemoryRecord] = {}
        applied = 0

        def flush() -> None:
            nonlocal applied
            if pending:
                result = self._store.upsert(list(pending.values()), self._target)
                failed.extend(result.failed)
                applied += result.written
                pending.clear()

        for sourced in batch:
            out = sourced.item
            if isinstance(out, MemoryStored):
                pending[(out.memory.tenant, out.memory.memory_id)] = record_of(out.memory)
                continue
            flush()
            applied += self._apply_other(out)
        flush()
        return BatchOutcome(applied, tuple(failed), next_offsets(batch))

    def apply_outputs(self, outputs: Sequence[Output]) -> BatchOutcome:
        """Apply outputs that carry no Kafka position (the in-process pipeline)."""
        return self.apply([Sourced("local", 0, i, o) for i, o in enumerate(outputs)])

    def _apply_other(self, out: Output) -> int:
        if isinstance(out, MemoryRemoved):
            if out.scope is DeleteScope.TENANT:
                self._store.delete_tenant(out.tenant, self._target)
                return 1
            if out.scope is DeleteScope.SESSION:
                self._store.delete_session(out.tenant, out.target, self._target)
            return self._store.delete(out.tenant, out.memory_ids, self._target) or 1
        if isinstance(out, MemoryExpired):
            return int(self._store.delete(out.tenant, [out.memory_id], self._target))
        if isinstance(out, MemoryConsolidated):
            # merged ids live on as provenance of the result; no separate object may remain
            return 0
        if isinstance(out, TripleAsserted | WriteRejected):
            return 0  # facts are kept by the fact table; rejections change no read model
        raise TypeError(f"output: unsupported type {type(out).__name__}")
