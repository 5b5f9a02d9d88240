"""Replay against real Kafka, the real registry and chDB: rebuild equals live, a corrupted row is found by
position, point-in-time rebuilds, and the scheduler's decisions re-derived byte for byte (real Kafka shell)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from agentic import wiring
from agentic.cli.demo_workload import load_nodes, load_pods, workload
from agentic.config import Settings
from agentic.connectors.clickhouse import open_client
from agentic.connectors.kafka import RawProducer, ensure_topics
from agentic.connectors.kafka_positions import end_offsets
from agentic.projections import replay as rp
from agentic.projections.clickhouse import schema
from agentic.projections.clickhouse.decode import DictDecoder
from agentic.projections.clickhouse.projector import Projector, ProjectorConfig
from agentic.projections.clickhouse.sink import ClickHouseSink
from agentic.schemas.codec import EventCodec
from agentic.schemas.samples import sample_events
from agentic.schemas.topics import TopicSpec, key_for
from agentic.streams.scheduler.processor import scheduler_processor
from agentic.streams.shell.kafka import KafkaShell, ShellConfig
from agentic.streams.shell.marks import output_headers

pytestmark = pytest.mark.integration
OPENB = Path(__file__).resolve().parents[3] / "shared" / "data" / "openb"


@pytest.fixture(scope="module")
def chdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """One chDB folder per module: a process may have one open at a time (closed at the module's end)."""
    client = open_client(Settings(state_dir=Path(tmp_path_factory.mktemp("state"))))
    yield client
    client.close()


def topics(settings: Settings, n: int, partitions: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    specs = [TopicSpec(name=f"test.replay.{run}.{i}", event_types=(), key_field="", partitions=partitions,
                       doc="test") for i in range(n)]
    ensure_topics(settings.kafka_bootstrap, specs)
    return [s.name for s in specs]


def test_rebuild_equals_live_and_a_corrupted_row_is_reported_by_position(services: Settings, chdb: Client) -> None:
    names = topics(services, 2, 2)
    codec = EventCodec(wiring.schema_ids(services))
    producer = RawProducer(services.kafka_bootstrap)
    for i, event in enumerate(sample_events(1_500, seed=5)):
        producer.send(names[i % 2], key_for(event), codec.encode(event))
    producer.flush()
    ends = end_offsets(services.kafka_bootstrap, names)
    live = f"r_{uuid.uuid4().hex[:8]}"
    schema.create(chdb, live)
    ids = wiring.schema_ids(services)
    proj = Projector(services.kafka_bootstrap, ClickHouseSink(chdb, live), ids,
                     ProjectorConfig(topics=tuple(names), database=live, group_id=live, linger_s=0.05))
    proj.catch_up(ends, timeout_s=120)
    proj.close()
    shadow = f"{live}_shadow"
    stats = rp.rebuild(chdb, services.kafka_bootstrap, DictDecoder(ids), shadow, ends)
    assert stats.records == sum(ends.values())
    assert all(c.ok for c in rp.compare(chdb, live, shadow))
    topic, partition, offset = chdb.query(f"SELECT topic, partition, offset FROM {live}.allocations "
                                          "WHERE idx = 1 ORDER BY topic, partition, offset LIMIT 1").result_rows[0]
    chdb.command(f"ALTER TABLE {live}.allocations UPDATE score = score + 1 WHERE topic = '{topic}' AND "
                 f"partition = {partition} AND offset = {offset} AND idx = 1 SETTINGS mutations_sync = 2")
    bad = [c for c in rp.compare(chdb, live, shadow) if not c.ok]
    assert [c.table for c in bad] == ["allocations"]
    assert [(d.topic, d.partition, d.offset, d.idx, d.kind) for d in bad[0].differences] == [
        (topic, partition, offset, 1, "differs")]
    asof = f"{live}_asof"
    cut = rp.rebuild(chdb, services.kafka_bootstrap, DictDecoder(ids), asof, ends, rp.Cutoff(offset=99))
    kept = int(chdb.query(f"SELECT count() FROM {asof}.events").result_rows[0][0])
    assert kept == cut.kept == sum(min(100, end) for end in ends.values())


@pytest.mark.skipif(not OPENB.exists(), reason=f"the OpenB trace is not at {OPENB}")
def test_scheduler_decisions_are_re_derived_byte_for_byte_and_a_forged_one_is_found(services: Settings) -> None:
    inputs, decisions, checkpoints = topics(services, 3, 1)
    ids = wiring.schema_ids(services)
    codec = EventCodec(ids)
    producer = RawProducer(services.kafka_bootstrap)
    for e in workload("rp", load_nodes(OPENB / "openb_node_list_gpu_node.csv")[:80],
                      load_pods(OPENB / "openb_pod_list_default.csv")[:400], end_ms=50_000_000):
        producer.send(inputs, key_for(e), codec.encode(e))
    producer.flush()
    proc = scheduler_processor(inputs=(inputs,), output=decisions)
    shell = KafkaShell(proc, EventCodec(ids), ShellConfig(services.kafka_bootstrap, checkpoint_topic=checkpoints,
                                                          idle_timeout=1.0, group_id=f"test-{inputs}"))
    shell.run(until_idle=True)
    read = rp.topic_records(services.kafka_bootstrap, end_offsets(services.kafka_bootstrap, [inputs, decisions]))
    check = rp.verify_decisions(proc, EventCodec(ids, validate_on_decode=False), read)
    assert check.ok and check.recorded == check.identical == check.recomputed >= 400
    # forge: the first decision again, with another score, claiming to be the decision of input 0
    first = next(iter(read(decisions)))
    forged = codec.encode(_with_score(codec.decode(first[1]), 0.123))
    producer.send(decisions, b"forged", forged, output_headers(proc.name, inputs, 0, 10**9, 0))
    producer.flush()
    read = rp.topic_records(services.kafka_bootstrap, end_offsets(services.kafka_bootstrap, [inputs, decisions]))
    check = rp.verify_decisions(proc, EventCodec(ids, validate_on_decode=False), read)
    assert not check.ok and check.mismatch_count == 1
    assert check.mismatches[0].mark == (10**9, 0) and check.mismatches[0].position == check.recorded - 1


def _with_score(event: object, score: float) -> object:
    import dataclasses

    return dataclasses.replace(event, score=score)  # type: ignore[type-var]
