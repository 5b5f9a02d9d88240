"""The event backbone against the real Kafka and schema registry: publish/tail round trips through the CLI,
invalid input publishes nothing, corrupt records go to the dead-letter topic, delivery failures surface."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, Producer, TopicPartition

from agentic import wiring
from agentic.cli.main import cli
from agentic.config import Settings
from agentic.connectors.kafka import (
    DLQ_OFFSET,
    DLQ_PARTITION,
    DLQ_REASON,
    DLQ_TOPIC,
    DeliveryError,
    EventConsumer,
    RawProducer,
    header_pairs,
)
from agentic.connectors.kafka_positions import end_offsets
from agentic.schemas import catalogue
from agentic.schemas.codec import event_to_json
from agentic.schemas.samples import sample_event
from agentic.schemas.topics import TOPICS, key_for, topic_for

pytestmark = pytest.mark.integration


def _env(settings: Settings) -> dict[str, str]:
    return {"AGENTIC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "AGENTIC_REGISTRY_URL": settings.registry_url}


def _end_offsets(settings: Settings, topics: list[str]) -> dict[tuple[str, int], int]:
    offsets: dict[tuple[str, int], int] = end_offsets(settings.kafka_bootstrap, topics)
    return offsets


def _tail_json(runner: CliRunner, settings: Settings, topic: str) -> list[dict[str, object]]:
    result = runner.invoke(cli, ["tail", topic, "--from-beginning", "--json", "--idle-timeout", "3"],
                           env=_env(settings), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_every_event_type_round_trips_through_publish_and_tail(services: Settings, tmp_path: Path) -> None:
    tenant = f"rt-{uuid.uuid4().hex[:8]}"
    originals = {}
    lines = []
    for i, event_type in enumerate(catalogue.event_types()):
        body = event_to_json(sample_event(event_type, i=i, seed=11))
        body["envelope"]["tenant"] = tenant
        body["event_type"] = event_type
        originals[body["envelope"]["event_id"]] = (event_type, body)
        lines.append(json.dumps(body))
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["publish", "--file", str(path)], env=_env(services), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["published"] == len(lines)

    seen = {}
    for topic in {topic_for(et).name for et, _ in originals.values()}:
        for row in _tail_json(runner, services, topic):
            event = row["event"]
            assert isinstance(event, dict)
            if event["envelope"]["tenant"] == tenant:
                seen[event["envelope"]["event_id"]] = (row["event_type"], event)
    assert set(seen) == set(originals)
    for event_id, (event_type, body) in originals.items():
        got_type, got = seen[event_id]
        assert got_type == event_type
        expected = {k: v for k, v in body.items() if k != "event_type"}
        assert got == json.loads(json.dumps(expected))


def test_invalid_input_names_the_field_and_publishes_nothing(services: Settings, tmp_path: Path) -> None:
    good = event_to_json(sample_event("TaskSubmitted", i=1, seed=3))
    bad = json.loads(json.dumps(good))
    bad["members"][0]["cpu_milli"] = "lots"
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    topics = [topic_for("TaskSubmitted").name]
    before = _end_offsets(services, topics)
    result = CliRunner().invoke(cli, ["publish", "TaskSubmitted", "--file", str(path)], env=_env(services))
    assert result.exit_code == 2
    assert "members[0].cpu_milli" in result.stderr
    assert "line 2" in result.stderr
    assert "nothing was published" in result.stderr
    assert _end_offsets(services, topics) == before


def test_corrupt_record_goes_to_dead_letter_topic_and_consumption_continues(services: Settings) -> None:
    codec = wiring.codec(services)
    wiring.producer(services, codec)  # creates the catalogue's topics and dead-letter topics
    topic = topic_for("NodeHeartbeat").name
    first, last = sample_event("NodeHeartbeat", i=1, seed=5), sample_event("NodeHeartbeat", i=2, seed=5)
    corrupt = b"\x00\x00\x00\x00\x07garbage-that-is-not-avro"
    raw = Producer({"bootstrap.servers": services.kafka_bootstrap})
    for key, value in ((key_for(first), codec.encode(first)), (b"bad-key", corrupt),
                       (key_for(last), codec.encode(last))):
        raw.produce(topic, value, key)
    assert raw.flush(30) == 0
    end = _end_offsets(services, [topic])[(topic, 0)]
    corrupt_offset = end - 2

    dlq_before = _end_offsets(services, [f"{topic}.dlq"])
    dlq = RawProducer(services.kafka_bootstrap)
    consumer = EventConsumer(services.kafka_bootstrap, f"test-{uuid.uuid4()}", [topic], codec, dlq)
    try:
        got = {c.offset: c.event for c in consumer.iterate(idle_timeout=5, stop_at_end=True)}
        consumer.commit()
    finally:
        consumer.close()
    assert got[end - 3] == first and got[end - 1] == last
    assert corrupt_offset not in got
    assert consumer.dead_letters >= 1

    reader = Consumer({"bootstrap.servers": services.kafka_bootstrap, "group.id": f"t-{uuid.uuid4()}"})
    start = dlq_before.get((f"{topic}.dlq", 0), 0)
    reader.assign([TopicPartition(f"{topic}.dlq", 0, start)])
    letters = []
    try:
        for _ in range(50):
            msg = reader.poll(1.0)
            if msg is not None and msg.error() is None:
                letters.append(msg)
            elif msg is None and letters:
                break
    finally:
        reader.close()
    # the topic is the catalogue's, shared with any other run: another consumer group may dead-letter the
    # same record too (at-least-once), so every letter for this offset is checked, not their number
    mine = [m for m in letters if dict(m.headers() or [])[DLQ_OFFSET] == str(corrupt_offset).encode()]
    assert mine
    for letter in mine:
        headers = dict(header_pairs(letter))
        assert letter.value() == corrupt and letter.key() == b"bad-key"
        assert headers[DLQ_TOPIC] == topic.encode() and headers[DLQ_PARTITION] == b"0"
        assert b"unknown_schema_id" in headers[DLQ_REASON] or b"invalid_avro" in headers[DLQ_REASON]


def test_failed_delivery_is_reported_not_dropped(services: Settings) -> None:
    producer = RawProducer(services.kafka_bootstrap, {"message.timeout.ms": 3000})
    producer.send(f"agentic.no-such-topic-{uuid.uuid4().hex[:6]}", b"k", b"v")
    with pytest.raises(DeliveryError, match="not acknowledged"):
        producer.flush(timeout=20)


def test_catalogue_topics_are_created_with_unlimited_retention(services: Settings) -> None:
    from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

    wiring.producer(services, wiring.codec(services))
    admin = AdminClient({"bootstrap.servers": services.kafka_bootstrap})
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t.name) for t in TOPICS]
    for resource, future in admin.describe_configs(resources).items():
        configs = future.result()
        spec = next(t for t in TOPICS if t.name == resource.name)
        assert configs["cleanup.policy"].value == spec.cleanup_policy
        if spec.event_types:
            assert configs["retention.ms"].value == "-1"
            assert configs["cleanup.policy"].value == "delete"
