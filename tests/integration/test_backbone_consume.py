"""The typed consume path against the real Kafka and registry: a fresh topic over several partitions holding
good records of every event type mixed with bad ones; every good record comes back as the event that was
written (positions kept), every bad one reaches the dead-letter topic with its reason; and the benchmark's
JSON reports what the issue asks for."""

from __future__ import annotations

import dataclasses
import io
import struct
import uuid
from collections.abc import Iterator

import fastavro
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # runtime export

from agentic import wiring
from agentic.bench import backbone
from agentic.config import Settings
from agentic.connectors.kafka import (
    DLQ_OFFSET,
    DLQ_PARTITION,
    DLQ_REASON,
    Consumed,
    EventConsumer,
    RawProducer,
    header_pairs,
)
from agentic.events import _generated as gen
from agentic.schemas import catalogue
from agentic.schemas.codec import EventCodec
from agentic.schemas.samples import sample_events
from agentic.schemas.topics import key_for

pytestmark = pytest.mark.integration

PARTITIONS = 3


@pytest.fixture()
def topic(services: Settings) -> Iterator[str]:
    name = f"agentic.test.consume.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": services.kafka_bootstrap})
    new = [NewTopic(name, num_partitions=PARTITIONS, replication_factor=1),
           NewTopic(f"{name}.dlq", num_partitions=1, replication_factor=1)]
    for future in admin.create_topics(new).values():
        future.result()
    yield name
    for future in admin.delete_topics([name, f"{name}.dlq"]).values():
        future.result()


def _breaks_a_rule(codec: EventCodec) -> bytes:
    """Valid Avro written by another tool (fastavro) that breaks a catalogue rule: cpu_load above 1."""
    event = next(e for e in sample_events(62, seed=3) if type(e).EVENT_TYPE == "NodeHeartbeat")
    record = gen.ENC["NodeHeartbeat"](event) | {"cpu_load": 7.0}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(catalogue.stripped(catalogue.resolved_schema(
        "NodeHeartbeat"))), record)
    return bytes(codec.encode(event)[:5] + body.getvalue())


def _bad_records(codec: EventCodec, good: bytes) -> dict[bytes, tuple[bytes | None, str]]:
    """key -> (value, the reason its dead letter must carry)."""
    return {
        b"bad-trailing": (good + b"\x00", "trailing_bytes"),
        b"bad-truncated": (good[:-9], "invalid_avro"),
        b"bad-magic": (b"\x07" + good[1:], "bad_magic"),
        b"bad-rule": (_breaks_a_rule(codec), "invalid_event"),
        b"bad-tombstone": (None, "tombstone"),
    }


def _dead_letters(settings: Settings, topic: str, n: int) -> list[tuple[bytes, dict[str, bytes]]]:
    reader = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"t-{uuid.uuid4()}"})
    reader.assign([TopicPartition(f"{topic}.dlq", 0, 0)])
    out: list[tuple[bytes, dict[str, bytes]]] = []
    try:
        for _ in range(60):
            msg = reader.poll(1.0)
            if msg is not None and msg.error() is None:
                out.append((msg.key() or b"", {k: v or b"" for k, v in header_pairs(msg)}))
            if len(out) >= n:
                break
    finally:
        reader.close()
    return out


def test_good_records_come_back_typed_and_bad_ones_are_dead_lettered(services: Settings, topic: str) -> None:
    codec = wiring.codec(services)
    events = sample_events(620, seed=9)
    datas = [codec.encode(e) for e in events]
    bad = _bad_records(codec, datas[0])
    producer = Producer({"bootstrap.servers": services.kafka_bootstrap})
    for i, (event, data) in enumerate(zip(events, datas, strict=True)):
        producer.produce(topic, data, key_for(event), partition=i % PARTITIONS)
        if i % 100 == 50:  # bad records between good ones, in every partition
            for key, (value, _) in bad.items():
                producer.produce(topic, value, key, partition=i % PARTITIONS)
    assert producer.flush(30) == 0

    dlq = RawProducer(services.kafka_bootstrap)
    consumer = EventConsumer(services.kafka_bootstrap, f"test-{uuid.uuid4()}", [topic], codec, dlq)
    try:
        got = list(consumer.iterate(idle_timeout=10, stop_at_end=True))
        consumer.commit()
    finally:
        consumer.close()

    assert all(type(c) is Consumed and dataclasses.is_dataclass(c) for c in got)
    by_key = sorted((c.event.envelope.event_id, c.event) for c in got)
    assert by_key == sorted((e.envelope.event_id, e) for e in events)
    for part in range(PARTITIONS):
        mine = [c for c in got if c.partition == part]
        assert [c.offset for c in mine] == sorted(c.offset for c in mine)
        assert [c.event for c in mine] == [e for i, e in enumerate(events) if i % PARTITIONS == part]
    n_bad = len(bad) * len([i for i in range(len(events)) if i % 100 == 50])
    assert consumer.dead_letters == n_bad
    letters = _dead_letters(services, topic, n_bad)
    assert len(letters) == n_bad
    for key, headers in letters:
        assert headers[DLQ_REASON].decode().startswith(bad[key][1]), (key, headers[DLQ_REASON])
        assert int(headers[DLQ_PARTITION]) in range(PARTITIONS) and int(headers[DLQ_OFFSET]) >= 0


def test_backbone_benchmark_reports_both_sides(services: Settings) -> None:
    out = backbone.run(services, 30_000, rounds=1)
    for side in ("", "baseline_"):
        for what in ("produce", "consume"):
            assert out[f"{side}{what}_events_per_s"] > 0
            assert out[f"{side}{what}_cpu_us_per_event"] > 0
    assert out["consume_ratio"] == round(out["consume_events_per_s"] / out["baseline_consume_events_per_s"], 3)
    assert out["events"] == 30_000 and 0 < out["consume_timed_events"] <= 30_000
    assert out["load_average_before"] >= 0 and out["python_loop_ns_before"] > 0
    assert len(out["consume_gc_collections"]) == len(out["baseline_consume_gc_collections"]) == 3


def test_framing_of_dead_letter_values_is_kept(services: Settings, topic: str) -> None:
    """A dead letter keeps the original bytes exactly (here: a record of an unknown schema id)."""
    codec = wiring.codec(services)
    value = struct.pack(">bI", 0, 2**31 - 5) + b"\x02x"
    producer = Producer({"bootstrap.servers": services.kafka_bootstrap})
    producer.produce(topic, value, b"k", partition=0)
    assert producer.flush(30) == 0
    dlq = RawProducer(services.kafka_bootstrap)
    consumer = EventConsumer(services.kafka_bootstrap, f"test-{uuid.uuid4()}", [topic], codec, dlq)
    try:
        assert list(consumer.iterate(idle_timeout=10, stop_at_end=True)) == []
        consumer.commit()
    finally:
        consumer.close()
    reader = Consumer({"bootstrap.servers": services.kafka_bootstrap, "group.id": f"t-{uuid.uuid4()}"})
    reader.assign([TopicPartition(f"{topic}.dlq", 0, 0)])
    try:
        msg = next(m for m in iter(lambda: reader.poll(1.0), "") if m is not None and m.error() is None)
    finally:
        reader.close()
    assert msg.value() == value and dict(header_pairs(msg))[DLQ_REASON] == b"unknown_schema_id: " + (
        b"schema id 2147483643 is not in the registry")
