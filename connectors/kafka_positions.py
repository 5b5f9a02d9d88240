"""Kafka positions for readers that pick their own offsets (the projector, replay): partitions, end
offsets, and a consumer with an explicit assignment. An addition beside `connectors/kafka.py`."""

from __future__ import annotations

import time
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from agentic.connectors.kafka import consumer_config

Position = tuple[str, int]


def partitions_of(bootstrap: str, topics: Sequence[str], timeout: float = 10.0) -> list[Position]:
    """Every (topic, partition) of `topics` that exists on the broker, sorted."""
    meta = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=timeout)
    return sorted((t, p) for t in topics if t in meta.topics for p in meta.topics[t].partitions)


def end_offsets(bootstrap: str, topics: Sequence[str], timeout: float = 10.0) -> dict[Position, int]:
    """The high watermark (next offset to be written) of every partition of `topics`."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "agentic-watermarks",
                         "enable.auto.commit": False})
    try:
        return {(t, p): _high(consumer, t, p, timeout) for t, p in partitions_of(bootstrap, topics, timeout)}
    finally:
        consumer.close()


def _high(consumer: Consumer, topic: str, partition: int, timeout: float) -> int:
    """The high watermark; a partition created a moment ago may have no leader yet: wait for it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return int(consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)[1])
        except KafkaException as exc:
            retriable = exc.args[0].code() in (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                                               KafkaError.UNKNOWN_TOPIC_OR_PART)
            if not retriable or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def assigned_consumer(bootstrap: str, group_id: str, positions: dict[Position, int]) -> Consumer:
    """A raw consumer reading exactly `positions` (explicit assignment, no group rebalancing).

    The caller decodes and commits (``consumer.commit(offsets=..., asynchronous=False)``); the group id
    is only where committed offsets are kept (lag monitoring). Explicit assignment means a sink that
    retries for minutes is never kicked out of a consumer group.
    """
    consumer = Consumer({**consumer_config(bootstrap, group_id, from_beginning=True),
                         "enable.partition.eof": False, "fetch.wait.max.ms": 20,
                         "queued.max.messages.kbytes": 131_072})
    consumer.assign([TopicPartition(t, p, off) for (t, p), off in sorted(positions.items())])
    return consumer
