"""`agentic bench memory`: ingest rate, search latency at 100,000 memories, recall@k by mode.

Everything runs against the real Weaviate of the stack, in collections of its own (alias
``BenchMemory``), through the same write path as the service: validate -> embed -> consolidation
core -> Weaviate batch upsert. Keys of the JSON result:

- ``ingest_per_s``: memories per second end to end (embedding included) while loading the store,
  until Weaviate acknowledged every batch (objects and BM25 index written); ``ingest_indexed_per_s``
  also waits until the vector index holds them, i.e. until every memory is searchable in every
  mode (what ``write(wait=True)`` waits for; differs when Weaviate runs with ASYNC_INDEXING=true);
- ``search_p50_ms`` / ``search_p95_ms``: hybrid search (query embedding included), k=10, on one
  tenant holding ``n_memories`` memories; ``search_ms_by_mode`` has the same for every mode;
- ``recall``: mode -> k -> mean fraction of a question's evidence turns found in the top k, on the
  seeded LoCoMo-style dataset of :mod:`agentic.bench.memory_data` (or a LoCoMo JSON file);
  ``recall_by_category`` and ``recall_by_conversation`` split recall@10 by question category and
  by conversation (each conversation counts its questions; for split figures such as
  tune/held-out, weight each conversation by its number of questions).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from agentic.bench.memory_data import Conversation, build_dataset, load_locomo, memory_lines
from agentic.config import Settings
from agentic.connectors.embeddings import DEFAULT_EMBEDDER, load_embedder
from agentic.connectors.weaviate import DEFAULT_ALPHA, MODES, Mode, WeaviateMemoryStore
from agentic.memory.service import MemoryService
from agentic.streams.memory import MemoryConfig

log = structlog.get_logger(__name__)

KS = (5, 10, 25)
BENCH_ALIAS = "BenchMemory"
LOAD_TENANT = "bench-load"


@dataclass(frozen=True, slots=True)
class MemoryBenchConfig:
    n_memories: int = 100_000
    conversations: int = 10
    queries: int = 500
    alpha: float = DEFAULT_ALPHA
    embedder: str = DEFAULT_EMBEDDER
    batch: int = 2000
    seed: int = 7
    locomo: Path | None = None


RecallTable = dict[str, dict[str, float]]


def recall_of(conversations: Sequence[Conversation], service: MemoryService, alpha: float,
              modes: Sequence[Mode] = MODES) -> tuple[RecallTable, RecallTable, RecallTable]:
    """Mean recall@k per mode; recall@10 per mode and question category; per mode and conversation."""
    sums: dict[str, dict[int, float]] = {m: dict.fromkeys(KS, 0.0) for m in modes}
    cats: dict[str, dict[str, list[float]]] = {m: {} for m in modes}
    convs: dict[str, dict[str, list[float]]] = {m: {} for m in modes}
    n = 0
    for conv in conversations:
        for q in conv.questions:
            n += 1
            evidence = set(q.evidence)
            for mode in modes:
                hits = service.search(conv.conversation_id, q.text, k=max(KS), mode=mode, alpha=alpha)
                for k in KS:
                    found = {e for h in hits[:k] for e in h.source_memory_ids} & evidence
                    r = len(found) / len(evidence)
                    sums[mode][k] += r
                    if k == 10:
                        cats[mode].setdefault(q.category, []).append(r)
                        convs[mode].setdefault(conv.conversation_id, []).append(r)
    recall = {m: {str(k): round(v / max(1, n), 4) for k, v in ks.items()} for m, ks in sums.items()}
    return recall, _means(cats), _means(convs)


def _means(groups: dict[str, dict[str, list[float]]]) -> RecallTable:
    return {m: {g: round(statistics.fmean(v), 4) for g, v in sorted(gs.items())} for m, gs in groups.items()}


def _load_lines(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` memory lines for one tenant, from as many generated conversations as needed."""
    lines: list[dict[str, Any]] = []
    index = 0
    while len(lines) < n:
        conv = build_dataset(1, seed=seed + 1000 + index)[0]
        for line in memory_lines((conv,)):
            line = {**line, "tenant": LOAD_TENANT, "memory_id": f"load-{index}-{line['memory_id']}",
                    "session_id": f"load-{index}-{line['session_id']}"}
            lines.append(line)
        index += 1
    return lines[:n]


def _percentile(values: Sequence[float], p: float) -> float:
    return round(float(np.percentile(np.asarray(values), p)), 3)


def run(settings: Settings, cfg: MemoryBenchConfig) -> dict[str, Any]:
    embedder = load_embedder(cfg.embedder)
    store = WeaviateMemoryStore.connect(settings, embedder.dim, alias=BENCH_ALIAS)
    try:
        store.drop_all()
        store.ensure_schema()
        service = MemoryService(embedder, store, MemoryConfig())
        convs = load_locomo(cfg.locomo) if cfg.locomo else build_dataset(cfg.conversations, seed=cfg.seed)
        for conv in convs:
            report = service.write(list(memory_lines((conv,))))
            if not report.ok:
                raise RuntimeError(f"dataset ingest failed: {report.failed[:3] or report.rejected[:3]}")
        recall, by_cat, by_conv = recall_of(convs, service, cfg.alpha)
        log.info("bench.memory.recall", recall=recall)

        lines = _load_lines(cfg.n_memories, cfg.seed)
        fresh = MemoryService(embedder, store, MemoryConfig())  # its own core state: a fresh service
        t0 = time.perf_counter()
        report = fresh.write_batches((lines[i:i + cfg.batch] for i in range(0, len(lines), cfg.batch)),
                                     wait=False)
        ingest_s = time.perf_counter() - t0
        if report.failed or report.rejected:
            raise RuntimeError(f"load ingest failed: {report.failed[:3] or report.rejected[:3]}")
        merged = report.merged
        fresh.wait_searchable([LOAD_TENANT], timeout=1800.0)  # async indexing: vectors searchable
        settled_s = time.perf_counter() - t0
        log.info("bench.memory.ingested", memories=len(lines), seconds=round(ingest_s, 1))

        queries = [q.text for c in convs for q in c.questions][: cfg.queries]
        latency: dict[str, dict[str, float]] = {}
        for mode in MODES:
            times = []
            for text in queries:
                t = time.perf_counter()
                fresh.search(LOAD_TENANT, text, k=10, mode=mode, alpha=cfg.alpha)
                times.append((time.perf_counter() - t) * 1000)
            latency[mode] = {"p50": _percentile(times, 50), "p95": _percentile(times, 95)}
        return {
            "ingest_per_s": round(len(lines) / ingest_s, 1),
            "ingest_indexed_per_s": round(len(lines) / settled_s, 1),
            "search_p50_ms": latency["hybrid"]["p50"],
            "search_p95_ms": latency["hybrid"]["p95"],
            "search_ms_by_mode": latency,
            "recall": recall,
            "recall_by_category": by_cat,
            "recall_by_conversation": by_conv,
            "stored_memories": store.count(LOAD_TENANT),
            "written": len(lines), "merged_duplicates": merged,
            "embedder": embedder.name, "dim": embedder.dim, "alpha": cfg.alpha,
            "dataset": {"source": str(cfg.locomo) if cfg.locomo else f"generated seed={cfg.seed}",
                        "conversations": len(convs), "turns": sum(len(c.turns) for c in convs),
                        "questions": sum(len(c.questions) for c in convs)},
            "targets": {"search_p95_ms": 50, "ingest_per_s": 2000, "recall.hybrid.10": 0.70},
        }
    finally:
        store.close()

