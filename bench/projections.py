"""`agentic bench projections`: events/s from Kafka into ClickHouse end to end, and replay rebuild events/s.

Set-up (not timed): fresh topics, N events of a scheduling-heavy mix (the demo's proportions, plus tool,
memory, model and workflow events) produced as Confluent-framed Avro. End to end (timed): the projector
from offset 0 until every partition is projected: Kafka fetch, decode, row mapping, inserts into the raw
`events` table and the typed tables, offset commits. Rebuild (timed): `replay.rebuild` of the same log into
a fresh shadow database (what `replay --verify` does before comparing). chDB in a temporary folder, or
the configured ClickHouse server.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from agentic import wiring
from agentic.config import Settings
from agentic.connectors.clickhouse import open_client
from agentic.connectors.kafka import RawProducer, ensure_topics
from agentic.connectors.kafka_positions import end_offsets
from agentic.projections import replay as rp
from agentic.projections.clickhouse import rowgen, schema
from agentic.projections.clickhouse.decode import DictDecoder
from agentic.projections.clickhouse.parallel import default_workers
from agentic.projections.clickhouse.projector import Projector, ProjectorConfig
from agentic.projections.clickhouse.sink import ClickHouseSink
from agentic.schemas.codec import EventCodec
from agentic.schemas.samples import sample_events
from agentic.schemas.topics import TopicSpec, key_for

# Event types and weights of the mix: a scheduling log (inputs and decisions) with some agent activity.
MIX: tuple[tuple[str, int], ...] = (
    ("TaskSubmitted", 20), ("TaskAllocated", 18), ("TaskFinished", 18), ("TaskPending", 4),
    ("NodeHeartbeat", 20), ("ToolCallRequested", 3), ("ToolCallDecided", 3), ("ToolCallCompleted", 3),
    ("MemoryWritten", 3), ("RouteDecided", 3), ("ModelCallCompleted", 3), ("StepCompleted", 2),
)


def mixed_events(n: int, seed: int = 7) -> list[Any]:
    total = sum(w for _, w in MIX)
    per_type = {et: sample_events(n * w // total + 1, seed=seed, event_types=(et,)) for et, w in MIX}
    out: list[Any] = []
    cursors = dict.fromkeys(per_type, 0)
    while len(out) < n:
        for et, w in MIX:
            for _ in range(w):
                if len(out) < n and cursors[et] < len(per_type[et]):
                    out.append(per_type[et][cursors[et]])
                    cursors[et] += 1
    return out


def _produce(settings: Settings, codec: EventCodec, topics: list[str], events: list[Any]) -> None:
    producer = RawProducer(settings.kafka_bootstrap)
    for i, event in enumerate(events):
        producer.send(topics[i % len(topics)], key_for(event), codec.encode(event))
    producer.flush()


def _cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _consume_only(bootstrap: str, ends: dict[tuple[str, int], int]) -> tuple[float, float]:
    """Same-run baseline: wall and CPU seconds to read the log with the rebuild's reader, no decoding."""
    cpu0, started = _cpu_s(), time.perf_counter()
    n = sum(len(chunk) for chunk in rp.read_log(bootstrap, ends))
    assert n == sum(ends.values()), f"read {n} records, expected {sum(ends.values())}"
    return time.perf_counter() - started, _cpu_s() - cpu0


def run(settings: Settings, n_events: int, partitions: int = 3, batch_records: int = 50_000,
        workers: int | None = None) -> dict[str, Any]:
    """The benchmark; `workers` None: `parallel.default_workers()` (0 when the C row encoder is built)."""
    workers = default_workers() if workers is None else workers
    load_before = os.getloadavg()[0]
    run_id = uuid.uuid4().hex[:8]
    specs = [TopicSpec(name=f"bench.projections.{run_id}.{i}", event_types=(), key_field="",
                       partitions=partitions, doc="benchmark") for i in range(2)]
    ensure_topics(settings.kafka_bootstrap, specs)
    topics = [s.name for s in specs]
    ids = wiring.schema_ids(settings)
    _produce(settings, EventCodec(ids), topics, mixed_events(n_events))
    ends = end_offsets(settings.kafka_bootstrap, topics)
    consume_s, consume_cpu_s = _consume_only(settings.kafka_bootstrap, ends)
    with tempfile.TemporaryDirectory(prefix="agentic-bench-") as tmp:
        local = settings if settings.clickhouse_url else replace(settings, state_dir=Path(tmp))
        client = open_client(local)
        live, shadow = f"bench_{run_id}", f"bench_{run_id}_rebuild"
        schema.create(client, live)
        config = ProjectorConfig(topics=tuple(topics), database=live, group_id=f"bench-{run_id}",
                                 batch_records=batch_records, linger_s=0.5, workers=workers,
                                 registry_url=settings.registry_url)
        proj = Projector(settings.kafka_bootstrap, ClickHouseSink(client, live), ids, config)
        cpu0 = _cpu_s()
        proj.start()
        started = time.perf_counter()
        proj.catch_up(ends, timeout_s=900)
        e2e_s = time.perf_counter() - started
        proj.close()
        cpu1 = _cpu_s()
        stats = rp.rebuild(client, settings.kafka_bootstrap, DictDecoder(ids), shadow, ends,
                           batch_records=batch_records, workers=workers, registry_url=settings.registry_url)
        cpu2 = _cpu_s()
        rows = int(client.query(f"SELECT count() FROM {live}.events").result_rows[0][0])
        same = rp.compare(client, live, shadow)
        if not settings.clickhouse_url:
            client.close()
        else:
            schema.drop(client, live)
            schema.drop(client, shadow)
    return {
        "events": n_events,
        "partitions": len(ends),
        "batch_records": batch_records,
        "workers": workers,
        "row_encoder": "C (_crows)" if rowgen.AVAILABLE else "Python (cavro + orjson)",
        "end_to_end_events_per_s": round(proj.progress.records / e2e_s),
        "end_to_end_s": round(e2e_s, 3),
        "rebuild_events_per_s": round(stats.events_per_s),
        "rebuild_s": round(stats.seconds, 3),
        # CPU seconds of this process, its chDB threads and its workers: what the figures cost, whatever the load
        "end_to_end_cpu_s": round(cpu1 - cpu0, 2),
        "rebuild_cpu_s": round(cpu2 - cpu1, 2),
        "raw_consume_events_per_s": round(n_events / consume_s),  # baseline: read the log, no decoding
        "raw_consume_cpu_s": round(consume_cpu_s, 2),
        "cpu_us_per_event": {"end_to_end": round(1e6 * (cpu1 - cpu0) / n_events, 1),
                             "rebuild": round(1e6 * (cpu2 - cpu1) / n_events, 1),
                             "raw_consume": round(1e6 * consume_cpu_s / n_events, 1)},
        "raw_rows": rows,
        "rebuild_equals_live": all(c.ok for c in same),
        "clickhouse": settings.clickhouse_url or "chDB in-process",
        "cpus": os.cpu_count(),
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # before, after: a shared machine
        "targets": {"end_to_end_events_per_s": 50_000, "rebuild_events_per_s": 100_000},
    }
