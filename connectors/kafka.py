"""Kafka adapter: topic creation from the catalogue, an idempotent event producer, a decoding consumer
that sends what it cannot decode to the topic's dead-letter topic.

Wire format: the value is an event in Confluent framing (see `agentic.schemas.codec`); the key is the
topic's declared key field (`agentic.schemas.topics.key_for`). A dead-letter record keeps the original key
and value bytes untouched and carries the reason and the source position in headers (`DLQ_HEADERS`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # exported at runtime, not in the stubs

from agentic.schemas.codec import DecodeError, EventCodec
from agentic.schemas.topics import TOPICS, TopicSpec, key_for, topic_for

log = structlog.get_logger(__name__)

DLQ_REASON = "agentic.dlq.reason"
DLQ_TOPIC = "agentic.dlq.source.topic"
DLQ_PARTITION = "agentic.dlq.source.partition"
DLQ_OFFSET = "agentic.dlq.source.offset"
DLQ_HEADERS = (DLQ_REASON, DLQ_TOPIC, DLQ_PARTITION, DLQ_OFFSET)

Headers = list[tuple[str, str | bytes | None]]

PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,  # implies acks=all and ordered, exactly-once-per-session delivery
    "acks": "all",
    "compression.type": "lz4",
    "linger.ms": 5,
    "batch.size": 1_000_000,
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
    "message.timeout.ms": 60_000,
    "delivery.report.only.error": True,  # failures are still reported, each one; successes are counted
}


class DeliveryError(RuntimeError):
    """Kafka did not acknowledge some records; nothing was silently dropped."""

    def __init__(self, failures: Sequence[str]) -> None:
        self.failures = tuple(failures)
        shown = "; ".join(self.failures[:5])
        super().__init__(
            f"{len(self.failures)} record(s) were not acknowledged by Kafka: {shown}. "
            "Check that the broker is up (`agentic stack status`) and publish them again."
        )


# ---------------------------------------------------------------------------------------------- admin


def dlq_spec(spec: TopicSpec) -> TopicSpec:
    return TopicSpec(name=spec.dlq_name, event_types=(), key_field=spec.key_field, partitions=1,
                     doc=f"Dead letters of {spec.name}: original bytes, reason and source position in headers.")


def wanted_topics(specs: Iterable[TopicSpec] = TOPICS) -> list[TopicSpec]:
    out: list[TopicSpec] = []
    for spec in specs:
        out.append(spec)
        if spec.event_types:
            out.append(dlq_spec(spec))
    return out


def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec] = TOPICS, timeout: float = 30.0) -> list[str]:
    """Create every declared topic (and its dead-letter topic) that does not exist yet; return the new ones."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [s for s in wanted_topics(specs) if s.name not in existing]
    if not missing:
        return []
    new = [NewTopic(s.name, num_partitions=s.partitions, replication_factor=1, config=s.config())
           for s in missing]
    for future in admin.create_topics(new, operation_timeout=timeout).values():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    log.info("topics.created", topics=[s.name for s in missing])
    return [s.name for s in missing]


# ------------------------------------------------------------------------------------------- producer


@dataclass
class _Deliveries:
    """What Kafka reported since the last flush. Only failures are reported one by one
    (`delivery.report.only.error`): a record sent and not failed once `flush` returns was acknowledged."""

    sent: int = 0
    failures: list[str] = field(default_factory=list)

    def callback(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.failures.append(f"{msg.topic()}[{msg.partition()}]: {err.str()}")


class RawProducer:
    """Sends pre-encoded records; keeps every failure until `flush`, which raises them."""

    def __init__(self, bootstrap: str, extra: dict[str, Any] | None = None) -> None:
        config = {"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS, **(extra or {})}
        self._deliveries = _Deliveries()
        config["on_delivery"] = self._on_delivery
        self._producer = Producer(config)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        self._deliveries.callback(err, msg)

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers | None = None) -> None:
        while True:
            try:
                if headers:
                    self._producer.produce(topic, value, key, headers=headers)
                else:
                    self._producer.produce(topic, value, key)
                self._deliveries.sent += 1
                return
            except BufferError:  # local queue full: serve delivery reports, which frees room (backpressure)
                self._producer.poll(0.05)

    def flush(self, timeout: float = 60.0) -> int:
        """Wait for every record sent so far; raise `DeliveryError` if any failed. Returns acks since last flush."""
        remaining = self._producer.flush(timeout)
        deliveries, self._deliveries = self._deliveries, _Deliveries()
        failures = list(deliveries.failures)
        if remaining:
            failures.append(f"{remaining} record(s) still unacknowledged after {timeout:.0f}s")
        if failures:
            raise DeliveryError(failures)
        return deliveries.sent

    def poll(self) -> None:
        self._producer.poll(0)


class EventProducer:
    """Validates, encodes and sends typed events to the topic the catalogue declares for their type."""

    def __init__(self, raw: RawProducer, codec: EventCodec) -> None:
        self._raw = raw
        self._codec = codec

    def prepare(self, event: Any) -> tuple[str, bytes, bytes]:
        """Validate and encode one event: (topic, key, value). Raises `EventValidationError`."""
        spec = topic_for(type(event).EVENT_TYPE)
        return spec.name, key_for(event), self._codec.encode(event)

    def publish(self, event: Any) -> None:
        self.send_prepared(self.prepare(event))

    def send_prepared(self, record: tuple[str, bytes, bytes]) -> None:
        topic, key, value = record
        self._raw.send(topic, key, value)

    def publish_many(self, events: Iterable[Any]) -> None:
        for event in events:
            self.publish(event)

    def flush(self, timeout: float = 60.0) -> int:
        return self._raw.flush(timeout)


# ------------------------------------------------------------------------------------------- consumer


@dataclass(frozen=True, slots=True)
class Consumed:
    """A decoded event and where it was read."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    event: Any


class _FillConsumed:
    """Consumed's slots, writable: `poll` fills one and makes it a Consumed (`__class__`), 4x cheaper per
    record than the frozen __init__; tests/unit/test_codec_reader.py holds the two layouts equal."""

    __slots__ = ("topic", "partition", "offset", "key", "event")  # noqa: RUF023  (Consumed's order: its layout)


_fill: Callable[[type], Any] = object.__new__  # typed Any: the object's class changes


class Batch(Sequence[Consumed]):
    """The records one `EventConsumer.poll` returned, in order: a sequence of `Consumed`.

    This is the pure-Python twin of the compiled Batch (BATCH in agentic/events/_cdecode.c), which
    keeps each record as a row (its event, position and a copy of its key's bytes) and makes its
    Consumed when it is read, and which `poll` returns when the compiled module is there. Both take
    records with `append`, which checks what it is given as the consumer's records are (a str topic, a
    partition in 0..2**31-1, an offset in 0..2**63-1, bytes or None as the key); a slice of either is a
    list of Consumed."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: list[Consumed] = []

    def append(self, topic: str, partition: int, offset: int, key: bytes | None, event: Any) -> None:
        _check_position(topic, partition, offset, key)
        self._items.append(Consumed(topic, partition, offset, key, event))

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> Consumed: ...

    @overload
    def __getitem__(self, index: slice) -> list[Consumed]: ...

    def __getitem__(self, index: int | slice) -> Consumed | list[Consumed]:
        return self._items[index]

    def __iter__(self) -> Iterator[Consumed]:
        return iter(self._items)

    def index(self, value: Any, start: int = 0, stop: int = sys.maxsize) -> int:
        return self._items.index(value, start, stop)

    def count(self, value: Any) -> int:
        return self._items.count(value)

    def __repr__(self) -> str:
        return f"<Batch of {len(self._items)} records>"


def _check_position(topic: object, partition: object, offset: object, key: object) -> None:
    """What `Batch.append` (both twins) requires of a record's position and key; raises as the compiled one does."""
    if not isinstance(topic, str):
        raise TypeError(f"append: topic must be a str, not {type(topic).__name__}")
    if key is not None and not isinstance(key, bytes):
        raise TypeError(f"append: key must be bytes or None, not {type(key).__name__}")
    if not isinstance(partition, int) or not isinstance(offset, int):
        raise TypeError("append: partition and offset must be ints")
    if not 0 <= partition <= 2**31 - 1:
        raise ValueError("append: partition must be in 0..2**31-1")
    if not 0 <= offset <= 2**63 - 1:
        raise ValueError("append: offset must be in 0..2**63-1")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be decoded or validated, as sent to the dead-letter topic."""

    topic: str
    partition: int
    offset: int
    reason: str


def position(msg: Message) -> tuple[str, int, int]:
    """(topic, partition, offset) of a consumed record (never None for a fetched record)."""
    return str(msg.topic()), int(msg.partition() or 0), int(msg.offset() or 0)


def header_pairs(msg: Message) -> list[tuple[str, bytes | None]]:
    """A record's headers as (name, bytes) pairs, in order (the client may hand back str values)."""
    raw = msg.headers()
    own = raw.items() if isinstance(raw, dict) else (raw or [])
    return [(k, v.encode() if isinstance(v, str) else v) for k, v in own]


def dlq_headers(msg: Message, reason: str) -> Headers:
    """The record's own headers plus the reason and the source position."""
    kept: Headers = [(k, v) for k, v in header_pairs(msg) if k not in DLQ_HEADERS]
    topic, partition, offset = position(msg)
    return [*kept, (DLQ_REASON, reason.encode()), (DLQ_TOPIC, topic.encode()),
            (DLQ_PARTITION, str(partition).encode()), (DLQ_OFFSET, str(offset).encode())]


def consumer_config(bootstrap: str, group_id: str, from_beginning: bool) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest" if from_beginning else "latest",
        "enable.partition.eof": True,
        "fetch.min.bytes": 1,
        "fetch.wait.max.ms": 50,
        "queued.max.messages.kbytes": 262_144,
        # When the fetched-but-unread queue passes queued.min.messages (100,000 by default), librdkafka
        # waits fetch.queue.backoff.ms (1,000 by default) before fetching again. A consumer that does any
        # work per record gets there on every large backlog, then drains the queue and sits idle for the
        # rest of the second: with 1 µs of work per record, 168,000 records/s instead of 640,000 (a raw
        # consumer over a 200,000-record topic, 2026-11-28). 50 ms keeps the queue topped up.
        "fetch.queue.backoff.ms": 50,
        "isolation.level": "read_committed",
    }


# Records asked of librdkafka per call inside `poll`: a chunk's messages are decoded while they are still
# in the CPU cache and freed before the next chunk is made. With 10,000 at a time (one call per poll) the
# messages of a chunk (~5 MB) were out of the cache before they were read; in an A/B of six alternating
# bench runs (2026-11-28) the typed consume was ~6% faster with 1,000.
_CHUNK = 1_000


class EventConsumer:
    """Reads topics, decodes records to typed events, dead-letters what it cannot decode, and goes on.

    Offsets are committed only by `commit()`, after the caller has handled the batch (at-least-once);
    dead letters are flushed to Kafka before the commit that moves past them. With `dlq=None` (a reader
    such as `agentic tail`) bad records are only reported through `on_dead_letter` and the log.
    """

    def __init__(self, bootstrap: str, group_id: str, topics: Sequence[str], codec: EventCodec,
                 dlq: RawProducer | None, from_beginning: bool = True,
                 on_dead_letter: Callable[[DeadLetter], None] | None = None) -> None:
        self._consumer = Consumer(consumer_config(bootstrap, group_id, from_beginning))
        self._codec = codec
        self._dlq = dlq
        self._on_dead_letter = on_dead_letter
        self._eof: set[tuple[str, int]] = set()
        self._assigned: set[tuple[str, int]] = set()
        self.dead_letters = 0
        compiled = codec.batch_consumer(Consumed)  # the compiled loop and Batch, or None: the Python ones
        self._run: Callable[[list[Message], int, set[Any], Any], int] | None = None
        self._new_batch: Callable[[], Any] = Batch
        if compiled is not None:
            self._run, self._new_batch = compiled
        self._consumer.subscribe(list(topics), on_assign=self._assign, on_revoke=self._revoke)

    def _assign(self, consumer: Consumer, partitions: list[Any]) -> None:
        self._assigned |= {(p.topic, p.partition) for p in partitions}

    def _revoke(self, consumer: Consumer, partitions: list[Any]) -> None:
        self._assigned -= {(p.topic, p.partition) for p in partitions}

    @property
    def at_end(self) -> bool:
        """True once every assigned partition has reported end-of-partition since its last record."""
        return bool(self._assigned) and self._assigned <= self._eof

    def poll(self, max_records: int = 10_000, timeout: float = 1.0) -> Sequence[Consumed]:
        """Decode up to `max_records` into a `Batch`: waits up to `timeout` for the first records, then
        takes only what is already fetched. Bad records are dead-lettered and left out. The hot loop of
        every consumer: the compiled loop (`EventCodec.batch_consumer`) takes the good records; each
        record it stops at (an end of partition, a record to dead-letter, a schema id met for the first
        time, an older writer schema) is handled here, one at a time, and the compiled loop goes on
        after it."""
        if self._run is None:
            return self._poll_python(self._consumer.consume(max_records, timeout))
        out = self._new_batch()
        seen: set[tuple[str, int]] = set()  # partitions with a record after their last end-of-partition
        run, left, wait = self._run, max_records, timeout
        while left > 0:  # in chunks (see _CHUNK); after the first, only what is already fetched
            ask = min(_CHUNK, left)
            msgs = self._consumer.consume(ask, wait)
            i, n = 0, len(msgs)
            while i < n:
                i = run(msgs, i, seen, out)
                if i < n:
                    self._take(msgs[i], seen, out)
                    i += 1
            del msgs  # freed before the next chunk is made, which then reuses its memory
            if n < ask:
                break
            left, wait = left - n, 0
        self._eof -= seen
        return out  # type: ignore[no-any-return]  # the compiled Batch: a Sequence[Consumed]

    def _take(self, msg: Message, seen: set[tuple[str, int]], out: Any) -> None:
        """One record the compiled loop did not take, as the Python loop handles it."""
        if msg.error() is not None:
            seen.discard(self._on_error(msg))
            return
        seen.add((msg.topic(), msg.partition()))  # type: ignore[arg-type]  # never None for a record
        value = msg.value()
        try:
            if value is None:
                raise DecodeError("tombstone", "the record has no value; a tombstone is not an event")
            event = self._codec.decode(value)
        except DecodeError as exc:
            self._dead_letter(msg, str(exc))
            return
        out.append(msg.topic(), msg.partition(), msg.offset(), msg.key(), event)

    def _poll_python(self, msgs: list[Message]) -> Batch:
        """The loop without the compiled module: one pass, no per-record helper calls on the good path
        (the partitions seen are noted once per run of records from the same partition, not per record)."""
        batch = Batch()
        append, decode = batch._items.append, self._codec.decode
        seen: set[tuple[str, int]] = set()
        topic, partition = "", -1
        for msg in msgs:
            if msg.error() is not None:
                seen.discard(self._on_error(msg))  # an end-of-partition after this batch's records
                topic, partition = "", -1
                continue
            if msg.partition() != partition or msg.topic() != topic:
                topic, partition = msg.topic(), msg.partition()  # type: ignore[assignment]  # never None here
                seen.add((topic, partition))
            value = msg.value()
            try:
                if value is None:
                    raise DecodeError("tombstone", "the record has no value; a tombstone is not an event")
                event = decode(value)
            except DecodeError as exc:
                self._dead_letter(msg, str(exc))
                continue
            item = _fill(_FillConsumed)
            item.topic = topic
            item.partition = partition
            item.offset = msg.offset()
            item.key = msg.key()
            item.event = event
            item.__class__ = Consumed
            append(item)
        self._eof -= seen
        return batch

    def _on_error(self, msg: Message) -> tuple[str, int]:
        """Record an end-of-partition (returned); raise any other error."""
        err = msg.error()
        assert err is not None
        if err.code() != KafkaError._PARTITION_EOF:
            raise KafkaException(err)
        where = position(msg)[:2]
        self._eof.add(where)
        return where

    def _dead_letter(self, msg: Message, reason: str) -> None:
        if self._dlq is not None:
            self._dlq.send(f"{msg.topic()}.dlq", msg.key(), msg.value() or b"", dlq_headers(msg, reason))
        self.dead_letters += 1
        letter = DeadLetter(*position(msg), reason=reason)
        log.warning("record.dead_lettered", topic=letter.topic, partition=letter.partition,
                    offset=letter.offset, reason=reason)
        if self._on_dead_letter is not None:
            self._on_dead_letter(letter)

    def commit(self) -> None:
        """Commit what was consumed, after every dead letter sent so far is acknowledged."""
        if self.dead_letters and self._dlq is not None:
            self._dlq.flush()
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                raise

    def iterate(self, limit: int | None = None, idle_timeout: float = 5.0,
                stop_at_end: bool = False) -> Iterator[Consumed]:
        """Yield events until `limit`, until `idle_timeout` passes with nothing new, or (stop_at_end) at the end."""
        seen = 0
        last = time.monotonic()
        while limit is None or seen < limit:
            batch = self.poll(max_records=min(10_000, (limit - seen) if limit else 10_000), timeout=0.2)
            if batch:
                last = time.monotonic()
            for item in batch:
                yield item
                seen += 1
            if stop_at_end and self.at_end:
                return
            if time.monotonic() - last > idle_timeout:
                return

    def close(self) -> None:
        self._consumer.close()

