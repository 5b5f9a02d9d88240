"""The in-process memory path: validate -> embed -> consolidation core -> Weaviate projection.

This is the write path the benchmark measures and the SDK uses until the Kafka processor shell
runs the same core behind the event log. A batch is validated whole before anything is written:
one bad line raises :class:`MemoryInputError` naming the line and field, and nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from agentic.connectors.embeddings import Embedder, check_vector
from agentic.connectors.weaviate import (
    DEFAULT_ALPHA,
    Mode,
    SearchHit,
    SearchQuery,
    WeaviateMemoryStore,
    weaviate_tenant,
)
from agentic.memory.lines import MemoryInputError, parse_line, parse_memory_type
from agentic.projections.weaviate.memory import MemoryProjection
from agentic.streams.memory import (
    DeleteMemory,
    DeleteScope,
    MemoryConfig,
    MemoryConsolidated,
    MemoryState,
    MemoryStored,
    WriteMemory,
    WriteRejected,
    apply,
)
from agentic.streams.memory.model import Output

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WriteReport:
    received: int
    stored: int
    merged: int
    rejected: tuple[tuple[str, str, str], ...]  # (memory_id, field, rule)
    failed: tuple[tuple[str, str], ...]  # objects the store refused

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.failed


class MemoryService:
    def __init__(self, embedder: Embedder, store: WeaviateMemoryStore,
                 config: MemoryConfig = MemoryConfig(), target: str | None = None) -> None:  # noqa: B008 - frozen
        self._embedder = embedder
        self._store = store
        self._config = config
        self._projection = MemoryProjection(store, target)
        self._target = target
        self._state = MemoryState()

    def close(self) -> None:
        self._store.close()

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    def prepare(self, lines: Sequence[Mapping[str, Any]]) -> list[WriteMemory]:
        """Validate every line and embed those without a vector; raises before any write."""
        parsed = [parse_line(obj, n) for n, obj in enumerate(lines, start=1)]
        for n, cmd in enumerate(parsed, start=1):
            if cmd.embedding:
                try:
                    check_vector(cmd.embedding, self._embedder.dim)
                except ValueError as exc:
                    raise MemoryInputError(f"line {n}: {exc}") from exc
        todo = [i for i, c in enumerate(parsed) if not c.embedding]
        if todo:
            vectors = self._embedder.embed([parsed[i].content for i in todo]).astype(np.float64)
            for i, row in zip(todo, vectors, strict=True):
                parsed[i] = _with_vector(parsed[i], tuple(row.tolist()))
        return parsed

    def _consolidate(self, lines: Sequence[Mapping[str, Any]]) -> tuple[int, list[Output]]:
        commands = self.prepare(lines)
        outputs: list[Output] = []
        state = self._state
        for cmd in commands:
            state, out = apply(state, cmd, self._config)
            outputs.extend(out)
        self._state = state
        return len(commands), outputs

    @staticmethod
    def _report(received: int, outputs: Sequence[Output], failed: tuple[tuple[str, str], ...]) -> WriteReport:
        rejected = tuple((o.memory_id, o.field, o.rule) for o in outputs if isinstance(o, WriteRejected))
        merged = sum(1 for o in outputs if isinstance(o, MemoryConsolidated))
        return WriteReport(received, received - merged - len(rejected), merged, rejected, failed)

    def write(self, lines: Sequence[Mapping[str, Any]], wait: bool = True) -> WriteReport:
        """Validate, embed, consolidate and store a batch; with ``wait``, returns once it is searchable."""
        return self.write_batches([lines], wait=wait)

    def write_batches(self, batches: Iterable[Sequence[Mapping[str, Any]]], wait: bool = True) -> WriteReport:
        """Write batches in order, embedding and consolidating batch n+1 while Weaviate stores batch n.

        One worker thread applies projections strictly in batch order. Returns when Weaviate
        acknowledged every batch and, with ``wait``, when the vector index of every tenant written
        holds them too (a server with ASYNC_INDEXING acknowledges before indexing vectors).
        """
        reports: list[WriteReport] = []
        tenants: set[str] = set()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="memory-projection") as pool:
            pending: list[tuple[int, list[Output], Future[Any]]] = []
            for lines in batches:
                received, outputs = self._consolidate(lines)
                tenants |= {o.memory.tenant for o in outputs if isinstance(o, MemoryStored)}
                pending.append((received, outputs, pool.submit(self._projection.apply_outputs, outputs)))
                while len(pending) > 2:  # bounded: backpressure on the producer side
                    r, o, fut = pending.pop(0)
                    reports.append(self._report(r, o, fut.result().failed))
            for r, o, fut in pending:
                reports.append(self._report(r, o, fut.result().failed))
        if wait:
            self.wait_searchable(tenants)
        return _sum(reports)

    def wait_searchable(self, tenants: Iterable[str], timeout: float = 300.0) -> float:
        """Block until every acknowledged write of these tenants is in their vector index."""
        waited: float = self._store.wait_indexed(tenants, timeout, target=self._target)
        return waited

    def write_file(self, path: Path, batch: int = 2000, wait: bool = True) -> WriteReport:
        """Write a JSON-lines file in batches; every line is validated before the first write."""
        rows = _read_jsonl(path)
        self.prepare_check(rows)
        return self.write_batches((rows[start:start + batch] for start in range(0, len(rows), batch)), wait=wait)

    def prepare_check(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for n, obj in enumerate(rows, start=1):
            cmd = parse_line(obj, n, embedding=(1.0,))
            if obj.get("embedding") is not None:
                try:
                    check_vector(cmd.embedding, self._embedder.dim)
                except ValueError as exc:
                    raise MemoryInputError(f"line {n}: {exc}") from exc

    def search(self, tenant: str | None, query: str, session: str | None = None,
               types: Iterable[str] | None = None, since: int | None = None, until: int | None = None,
               k: int = 10, mode: Mode = "hybrid", alpha: float = DEFAULT_ALPHA) -> list[SearchHit]:
        if tenant is None or not str(tenant).strip():
            raise MemoryInputError("tenant: required; a search is always scoped to one tenant")
        weaviate_tenant(tenant)
        if not query or not query.strip():
            raise MemoryInputError("query: required: non-empty text")
        if not 0.0 <= alpha <= 1.0:
            raise MemoryInputError(f"alpha: must be within [0, 1] (1 = vector only), got {alpha}")
        kinds = tuple(parse_memory_type(t).value for t in (types or ()))
        vector = None if mode == "keyword" else tuple(self._embedder.embed([query])[0].astype(float).tolist())
        q = SearchQuery(tenant=tenant, text=query, vector=vector, mode=mode, alpha=alpha, k=k,
                        session=session, types=kinds, since=since, until=until)
        hits: list[SearchHit] = self._store.search(q, self._target)
        return hits

    def chain(self, tenant: str, session: str) -> list[SearchHit]:
        """The session's memories in the order they happened."""
        weaviate_tenant(tenant)
        chained: list[SearchHit] = self._store.chain(tenant, session, target=self._target)
        return chained

    def delete(self, tenant: str, *, memory_id: str | None = None, session: str | None = None,
               everything: bool = False, at: int = 0) -> None:
        """Apply a tombstone (exactly one of memory_id, session, everything) to the core and Weaviate.

        The core remembers it, so a later replayed write of the same memory is rejected.
        """
        chosen = [x for x in (memory_id, session, everything or None) if x]
        if len(chosen) != 1:
            raise MemoryInputError("memory_id/session/everything: give exactly one of them")
        scope = DeleteScope.MEMORY if memory_id else DeleteScope.SESSION if session else DeleteScope.TENANT
        event_id = f"delete:{tenant}:{scope.value}:{memory_id or session or ''}:{at}"
        self._state, outputs = apply(self._state, DeleteMemory(event_id, at, tenant, scope, memory_id or session or ""),
                                     self._config)
        outcome = self._projection.apply_outputs(outputs)
        if not outcome.commit:
            raise RuntimeError(f"delete not applied in Weaviate: {outcome.failed[:3]}; retry the delete")


def _sum(reports: Sequence[WriteReport]) -> WriteReport:
    return WriteReport(sum(r.received for r in reports), sum(r.stored for r in reports),
                       sum(r.merged for r in reports), tuple(x for r in reports for x in r.rejected),
                       tuple(x for r in reports for x in r.failed))


def _with_vector(cmd: WriteMemory, vector: tuple[float, ...]) -> WriteMemory:
    return replace(cmd, embedding=vector)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with path.open() as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise MemoryInputError(f"line {n}: line: not valid JSON ({exc.msg})") from exc
    return rows
