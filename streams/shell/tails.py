"""Reading a partition from its end backwards: the last output mark, the latest checkpoint, the last
dead letter. What the Kafka shell needs to know on start-up, read from Kafka itself (no local files)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from agentic.connectors.kafka import DLQ_OFFSET, DLQ_PARTITION, DLQ_TOPIC

from .checkpoint import Checkpoint, CheckpointError
from .marks import Mark, mark_of, version_of

T = TypeVar("T")

_FIRST_WINDOW = 64
READ_TIMEOUT_S = 30.0


def _reader(bootstrap: str) -> Consumer:
    # read_uncommitted: reading up to the high watermark must not wait for someone else's open transaction
    return Consumer({"bootstrap.servers": bootstrap, "group.id": "agentic-shell-tail", "enable.auto.commit": False,
                     "enable.partition.eof": False, "isolation.level": "read_uncommitted",
                     "fetch.wait.max.ms": 20})


def iter_range(consumer: Consumer, topic: str, partition: int, start: int, end: int) -> Iterator[Message]:
    """Records of ``topic[partition]`` in ``[start, end)`` (fewer when offsets are control records or compacted
    away), through ``consumer``; raises `TimeoutError` when no progress is made for `READ_TIMEOUT_S`."""
    if start >= end:
        return
    consumer.assign([TopicPartition(topic, partition, start)])
    deadline = time.monotonic() + READ_TIMEOUT_S
    while True:
        batch = consumer.consume(1000, 1.0)
        if not batch:
            position = consumer.position([TopicPartition(topic, partition)])[0].offset
            if position >= end:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic}[{partition}] offsets {start}..{end}: stuck at {position} "
                                   f"for {READ_TIMEOUT_S:.0f} s; check the broker (`agentic stack status`)")
            continue
        deadline = time.monotonic() + READ_TIMEOUT_S
        for msg in batch:
            if msg.error() is not None:
                raise KafkaException(msg.error())
            if int(msg.offset() or 0) >= end:
                return
            yield msg
        if int(batch[-1].offset() or 0) >= end - 1:
            return


def scan_back(bootstrap: str, topic: str, partition: int, pick: Callable[[Message], T | None]) -> T | None:
    """The last value ``pick`` returns for a record of ``topic[partition]``, reading windows backwards from
    the end (64 records, then doubling) until one record matches or the start is reached. None if none does
    or the topic does not exist."""
    consumer = _reader(bootstrap)
    try:
        found_topic = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if found_topic is None or found_topic.error is not None:
            return None
        tp = TopicPartition(topic, partition)
        low, high = consumer.get_watermark_offsets(tp, timeout=10)
        end, window = int(high), _FIRST_WINDOW
        while end > low:
            start = max(int(low), end - window)
            found = [v for v in map(pick, iter_range(consumer, topic, partition, start, end)) if v is not None]
            if found:
                return found[-1]
            end, window = start, window * 2
        return None
    finally:
        consumer.close()


def last_mark(bootstrap: str, topic: str, partition: int, processor: str) -> Mark | None:
    """The mark of the last output ``processor`` wrote to ``topic[partition]``."""
    last = last_output(bootstrap, topic, partition, processor)
    return None if last is None else last[0]


def last_output(bootstrap: str, topic: str, partition: int, processor: str) -> tuple[Mark, str | None] | None:
    """Mark and processor version of the last output ``processor`` wrote to ``topic[partition]``."""

    def pick(msg: Message) -> tuple[Mark, str | None] | None:
        headers = msg.headers()
        mark = mark_of(headers, processor)  # type: ignore[arg-type]  # confluent's header list is str/bytes pairs
        return None if mark is None else (mark, version_of(headers))  # type: ignore[arg-type]

    return scan_back(bootstrap, topic, partition, pick)


def latest_checkpoint(bootstrap: str, topic: str, processor: str) -> Checkpoint | None:
    """The newest decodable checkpoint keyed ``processor`` in the (compacted, one-partition) checkpoint topic."""
    key = processor.encode()

    def pick(msg: Message) -> Checkpoint | None:
        if msg.key() != key or not msg.value():
            return None
        try:
            return Checkpoint.decode(msg.value() or b"")
        except CheckpointError:
            return None

    return scan_back(bootstrap, topic, 0, pick)


def last_dead_letter(bootstrap: str, topic: str, partition: int) -> int | None:
    """Source offset of the last record of ``topic[partition]`` sent to ``<topic>.dlq``."""
    want = {DLQ_TOPIC: topic.encode(), DLQ_PARTITION: str(partition).encode()}

    def pick(msg: Message) -> int | None:
        raw = msg.headers()
        pairs = raw.items() if isinstance(raw, dict) else (raw or [])
        headers = {k: v for k, v in pairs if isinstance(v, bytes)}
        if any(headers.get(k) != v for k, v in want.items()) or DLQ_OFFSET not in headers:
            return None
        return int(headers[DLQ_OFFSET])

    return scan_back(bootstrap, f"{topic}.dlq", partition, pick)
