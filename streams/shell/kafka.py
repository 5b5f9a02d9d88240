"""The Kafka shell: runs one `Processor` over its single-partition input topic with an exact effect.

Start-up (`KafkaShell.recover`): read the last output mark (headers of the output topic's last record),
the latest checkpoint and the last dead letter; rebuild the state from the checkpoint (or from the empty
state) and re-read the input from the checkpoint's offset. Every output whose ``(offset, index)`` is at
or before the mark was written before the crash and is skipped; the rest are sent. Outputs go through
one idempotent producer to one partition, so the output log is always a prefix of the output sequence:
after a kill at any point the log ends up identical to an uninterrupted run's.

Checkpoints are written every ``checkpoint_every`` inputs, only after every output before them is
acknowledged. The consumer group offset is committed at the same time, for lag monitoring only: the
truth of "how far" is the output log and the checkpoint, never the group offset.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, cast

import structlog
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from agentic.connectors.kafka import RawProducer, dlq_headers
from agentic.connectors.kafka_positions import assigned_consumer, end_offsets
from agentic.schemas.codec import DecodeError, EventCodec, EventValidationError
from agentic.schemas.topics import CHECKPOINTS, key_for

from . import tails
from .checkpoint import Checkpoint
from .marks import NOTHING_WRITTEN, SOURCE_INDEX, SOURCE_OFFSET, HeaderList, Mark, output_headers
from .protocol import Emitted, Processor, S, Unprocessable, fold_positioned

log = structlog.get_logger(__name__)

# A checkpoint is one record: it must fit Kafka's default max.message.bytes (1 MiB) with room for overhead.
# Snapshots are zlib-compressed: the OpenB cluster (1,213 nodes, ~10k tasks) is ~5 MB raw, ~0.3 MB compressed.
MAX_CHECKPOINT_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class ShellConfig:
    """How the shell runs: where Kafka is, where checkpoints go and how often, how it batches."""

    bootstrap: str
    checkpoint_topic: str = CHECKPOINTS.name
    checkpoint_every: int = 5_000
    batch: int = 2_000
    idle_timeout: float = 3.0
    group_id: str | None = None  # default: agentic-processor-<name>

    def __post_init__(self) -> None:
        if self.checkpoint_every < 1:
            raise ValueError("ShellConfig.checkpoint_every must be >= 1 input; use e.g. 5000")
        if self.batch < 1:
            raise ValueError("ShellConfig.batch must be >= 1 record")


@dataclass(frozen=True, slots=True)
class Recovery(Generic[S]):
    """Where a (re)started shell stands: the state to continue from and what is already written."""

    state: S
    next_offset: int  # first input offset still to fold into `state`
    mark: Mark  # last output already in the output topic
    dead_letter_mark: int  # last input offset already dead-lettered (-1: none)
    checkpoint_offset: int | None  # next_offset of the checkpoint used, None: replayed from the start
    ignored_checkpoint: str | None = None  # why a checkpoint found was not used


@dataclass
class ShellStats:
    """Counters of one run (reported by `agentic processor run` and the benchmark)."""

    inputs: int = 0
    outputs: int = 0
    skipped: int = 0  # outputs re-derived on restart that were already written
    redelivered: int = 0  # input records delivered again by the consumer, ignored
    dead_letters: int = 0
    checkpoints: int = 0
    next_offset: int = 0
    started_at: float = field(default_factory=time.monotonic)
    first_input_at: float | None = None  # monotonic time the first batch of inputs arrived
    last_handled_at: float | None = None  # monotonic time the last batch was handled (its outputs sent)

    @property
    def processing_s(self) -> float:
        """From the first input received to the last one handled (start-up and idle waits excluded)."""
        if self.first_input_at is None or self.last_handled_at is None:
            return 0.0
        return self.last_handled_at - self.first_input_at

    def as_dict(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started_at, 1e-9)
        return {"inputs": self.inputs, "outputs": self.outputs, "skipped_already_written": self.skipped,
                "redelivered_ignored": self.redelivered,
                "dead_letters": self.dead_letters, "checkpoints": self.checkpoints,
                "next_offset": self.next_offset, "elapsed_s": round(elapsed, 3),
                "processing_s": round(self.processing_s, 3)}


def group_id_for(processor: str) -> str:
    """The consumer group a processor commits its position to (lag monitoring only)."""
    return f"agentic-processor-{processor}"


def single_input(processor: Processor[Any, Any, Any], bootstrap: str) -> str:
    """The processor's one input topic; raise if it has several topics or partitions (no total order)."""
    if len(processor.inputs) != 1:
        raise ValueError(f"processor {processor.name}: the Kafka shell runs exactly one input topic, "
                         f"got {processor.inputs}; merge the inputs into one topic to get one total order")
    topic = processor.inputs[0]
    meta = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    found = meta.topics.get(topic)
    if found is None or found.error is not None:
        raise ValueError(f"processor {processor.name}: input topic {topic} does not exist; "
                         "create it (`agentic publish` or `ensure_topics`) before starting the processor")
    if len(found.partitions) != 1:
        raise ValueError(f"processor {processor.name}: input topic {topic} has {len(found.partitions)} "
                         "partitions; the shell needs exactly 1 (one total order of inputs)")
    return topic


class KafkaShell(Generic[S]):
    """Runs ``processor`` over Kafka: decode with ``codec``, step, encode outputs, write them with marks."""

    def __init__(self, processor: Processor[S, Any, Any], codec: EventCodec, config: ShellConfig,
                 key: Callable[[Any], bytes] = key_for) -> None:
        self.processor = processor
        self.codec = codec
        self.config = config
        self.key = key
        self.topic = single_input(processor, config.bootstrap)
        self.partition = 0
        self.group_id = config.group_id or group_id_for(processor.name)
        self.stats = ShellStats()

    # ------------------------------------------------------------------------------ recovery
    def recover(self) -> Recovery[S]:
        """Rebuild the state from the latest usable checkpoint and read how far outputs and dead letters go."""
        p, bootstrap = self.processor, self.config.bootstrap
        # the checkpoint before the output mark: a writer still running can only move the mark past it
        checkpoint = tails.latest_checkpoint(bootstrap, self.config.checkpoint_topic, p.name)
        last = tails.last_output(bootstrap, p.output, 0, p.name)
        if last is not None and last[1] is not None and last[1] != p.version:
            raise VersionConflictError(
                f"processor {p.name}: the last record of {p.output} was written by version {last[1]!r}, this is "
                f"{p.version!r} (another configuration or core). Appending would mix two decision logs: run the "
                "same configuration, or write this one to a new output topic")
        mark = NOTHING_WRITTEN if last is None else last[0]
        dead = tails.last_dead_letter(bootstrap, self.topic, self.partition)
        why_not = None
        if checkpoint is not None:
            why_not = checkpoint.usable_for(p.name, p.version, self.topic, self.partition)
            if why_not is None and Mark(*checkpoint.mark) > mark:
                why_not = (f"it says outputs reached {checkpoint.mark} but {p.output} ends at "
                           f"{(mark.offset, mark.index)}: the output log lost records")
        if checkpoint is not None and why_not is None:
            state, start, used = p.restore(checkpoint.snapshot), checkpoint.next_offset, checkpoint.next_offset
        else:
            state, start, used = p.initial_state(), 0, None
        recovery = Recovery(state, start, mark, -1 if dead is None else dead, used, why_not)
        log.info("shell.recovered", processor=p.name, input=self.topic, checkpoint_offset=used,
                 ignored_checkpoint=why_not, output_mark=(mark.offset, mark.index), dead_letter_mark=dead)
        return recovery

    def _commit(self, consumer: Consumer, offset: int) -> None:
        """The group offset is for lag monitoring only: a failed commit is logged, never fatal (a faust worker
        of the same group, for one, makes the broker refuse commits from this group-less consumer)."""
        try:
            consumer.commit(offsets=[TopicPartition(self.topic, self.partition, offset)], asynchronous=False)
        except KafkaException as exc:
            log.warning("shell.commit_failed", processor=self.processor.name, offset=offset, error=str(exc))

    # ---------------------------------------------------------------------------------- run
    def run(self, until_idle: bool = False, stop: threading.Event | None = None) -> ShellStats:
        """Recover, then process inputs until ``stop`` is set (or, with ``until_idle``, until caught up)."""
        rec = self.recover()
        stop = stop or threading.Event()
        producer = RawProducer(self.config.bootstrap)
        consumer = assigned_consumer(self.config.bootstrap, self.group_id, {(self.topic, self.partition):
                                                                            rec.next_offset})
        loop = Pipeline(self, rec, producer, commit=lambda offset: self._commit(consumer, offset))
        try:
            idle_since = time.monotonic()
            while not stop.is_set():
                batch = consumer.consume(self.config.batch, 0.2)
                if batch:
                    idle_since = time.monotonic()
                    loop.handle(batch)
                elif until_idle and time.monotonic() - idle_since > self.config.idle_timeout and \
                        caught_up(self.config.bootstrap, self.topic, self.partition, loop.next_offset):
                    break
            loop.checkpoint()
        finally:
            consumer.close()
        log.info("shell.stopped", processor=self.processor.name, **self.stats.as_dict())
        return self.stats


def caught_up(bootstrap: str, topic: str, partition: int, next_offset: int) -> bool:
    """True when ``next_offset`` is at the end of ``topic[partition]`` (every input so far is processed)."""
    return next_offset >= int(end_offsets(bootstrap, [topic]).get((topic, partition), 0))


class VersionConflictError(ValueError):
    """The output topic was last written by another version of the processor."""


class InputGapError(RuntimeError):
    """The consumer delivered an input offset beyond the next one expected: folding on would lose inputs."""


class Record(Protocol):
    """What the pipeline reads of a consumed record: confluent-kafka's `Message` has it; other
    runtimes (faust) wrap their records in the same few methods."""

    def error(self) -> Any: ...
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def headers(self) -> Any: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...


class Pipeline(Generic[S]):
    """The per-record work of a running shell, whatever consumes the records: decode, step, send the outputs
    not yet written with their marks, dead-letter what cannot be processed, checkpoint every N inputs.

    ``commit(next_offset)`` is called after each checkpoint (the runtime's consumer-group commit, for lag
    monitoring only)."""

    def __init__(self, shell: KafkaShell[S], rec: Recovery[S], producer: RawProducer,
                 commit: Callable[[int], None] | None = None) -> None:
        self.shell = shell
        self.p = shell.processor
        self.producer = producer
        self.commit = commit
        self.last_input_at = time.monotonic()
        self.every = shell.config.checkpoint_every
        self.stats = shell.stats
        # the headers every output shares (processor, source topic and partition, version), encoded once
        self._fixed = output_headers(self.p.name, shell.topic, shell.partition, 0, 0, self.p.version)
        self.reset(rec)

    def _headers(self, offset: int, index: int) -> HeaderList:
        """`marks.output_headers` of the output ``(offset, index)``, from the shared part."""
        fixed = self._fixed
        return [fixed[0], fixed[1], fixed[2], (SOURCE_OFFSET, str(offset).encode()),
                (SOURCE_INDEX, str(index).encode()), *fixed[5:]]

    def reset(self, rec: Recovery[S]) -> None:
        """Continue from ``rec`` (start-up, or a runtime that got the partition back after another owner)."""
        self.state = rec.state
        self.next_offset = rec.next_offset
        self.written = rec.mark  # last output mark known written (or sent, once we send)
        self.dead_mark = rec.dead_letter_mark
        self.since_checkpoint = 0
        self.stats.next_offset = rec.next_offset

    def handle(self, batch: Iterable[Record]) -> None:
        self.last_input_at = time.monotonic()
        if self.stats.first_input_at is None:
            self.stats.first_input_at = self.last_input_at
        for msg in batch:
            err = msg.error()
            if err is not None:
                raise KafkaException(err)
            self._one(msg)
            if self.since_checkpoint >= self.every:
                self.checkpoint()
        self.producer.poll()
        self.stats.last_handled_at = time.monotonic()

    def _one(self, msg: Record) -> None:
        offset = int(msg.offset() or 0)
        if offset < self.next_offset:  # delivered again by the consumer (e.g. fetched before a seek): folded already
            self.stats.redelivered += 1
            return
        if offset > self.next_offset:
            raise InputGapError(f"processor {self.p.name}: input {self.shell.topic} jumped from offset "
                                f"{self.next_offset} to {offset}; the consumer skipped records (or the input is "
                                "written transactionally, which the shell does not support). Restart it: it "
                                "resumes exactly from its checkpoint and output log")
        try:
            value = msg.value()
            if value is None:
                raise DecodeError("truncated", "the record has no value (a tombstone is not an event)")
            event = self.shell.codec.decode(value)
            self.state, outputs = self.p.step(self.state, event)
        except (DecodeError, Unprocessable) as exc:
            self._dead_letter(msg, offset, str(exc))
            outputs = ()
        for index, out in enumerate(outputs):
            if self.written.covers(offset, index):
                self.stats.skipped += 1
                continue
            try:
                value = self.shell.codec.encode(out)
            except EventValidationError as exc:  # a processor bug: keep going, keep the evidence
                self._dead_letter(msg, offset, f"output {index} ({type(out).__name__}) is invalid: {exc}")
                continue
            self.producer.send(self.p.output, self.shell.key(out), value, self._headers(offset, index))
            self.written = Mark(offset, index)
            self.stats.outputs += 1
        self.next_offset = offset + 1
        self.since_checkpoint += 1
        self.stats.inputs += 1
        self.stats.next_offset = self.next_offset

    def _dead_letter(self, msg: Record, offset: int, reason: str) -> None:
        log.warning("shell.dead_letter", processor=self.p.name, offset=offset, reason=reason)
        if offset <= self.dead_mark:
            return
        headers = dlq_headers(cast(Message, msg), reason)  # reads topic/partition/offset/headers, as Record has
        self.producer.send(f"{self.shell.topic}.dlq", msg.key(), msg.value() or b"", headers)
        self.dead_mark = offset
        self.stats.dead_letters += 1

    def checkpoint(self) -> None:
        """Flush outputs, then write the snapshot covering every input read so far, then commit the group."""
        if self.since_checkpoint == 0:
            return
        self.producer.flush()
        cp = Checkpoint(self.p.name, self.p.version, self.shell.topic, self.shell.partition, self.next_offset,
                        (self.written.offset, self.written.index), self.p.snapshot(self.state))
        value = cp.encode()
        self.since_checkpoint = 0
        if len(value) > MAX_CHECKPOINT_BYTES:  # Kafka would refuse it; recovery then uses an older one or replays
            log.warning("shell.checkpoint_too_large", processor=self.p.name, next_offset=self.next_offset,
                        bytes=len(value), limit=MAX_CHECKPOINT_BYTES,
                        fix="raise max.message.bytes of the checkpoint topic and this limit together")
            return
        self.producer.send(self.shell.config.checkpoint_topic, self.p.name.encode(), value)
        self.producer.flush()
        if self.commit is not None:
            self.commit(self.next_offset)
        self.stats.checkpoints += 1
        log.info("shell.checkpoint", processor=self.p.name, next_offset=self.next_offset, bytes=len(value))


# ------------------------------------------------------------------------------ reading a processor's log
def read_events(bootstrap: str, codec: EventCodec, topic: str, start: int = 0, end: int | None = None,
                partition: int = 0) -> Iterator[tuple[int, Any]]:
    """``(offset, event)`` of ``topic[partition]`` from ``start`` up to ``end`` (default: the current end),
    skipping records that do not decode (the shell dead-letters those: they have no outputs)."""
    consumer = assigned_consumer(bootstrap, "agentic-shell-reader", {(topic, partition): start})
    try:
        stop = end if end is not None else int(consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=10)[1])
        for msg in tails.iter_range(consumer, topic, partition, start, stop):
            try:
                yield int(msg.offset() or 0), codec.decode(msg.value() or b"")
            except DecodeError:
                continue
    finally:
        consumer.close()


@dataclass(frozen=True, slots=True)
class Folded(Generic[S]):
    """A processor's state rebuilt from its log: from a checkpoint (``checkpoint_offset``) or from 0."""

    state: S
    next_offset: int
    checkpoint_offset: int | None
    tail: list[Emitted[Any]]  # outputs of the inputs folded after the checkpoint (all of them without one)


def state_at(processor: Processor[S, Any, Any], codec: EventCodec, bootstrap: str, end: int | None = None,
             checkpoint_topic: str | None = CHECKPOINTS.name) -> Folded[S]:
    """The state after the inputs before offset ``end`` (default: all): the latest usable checkpoint at or
    before ``end`` plus the tail, or a fold from offset 0 (``checkpoint_topic=None`` forces the full fold)."""
    topic = single_input(processor, bootstrap)
    if end is None:
        end = end_offsets(bootstrap, [topic])[(topic, 0)]
    checkpoint = tails.latest_checkpoint(bootstrap, checkpoint_topic, processor.name) if checkpoint_topic else None
    usable = checkpoint is not None and checkpoint.usable_for(processor.name, processor.version, topic, 0) is None \
        and checkpoint.next_offset <= end
    if usable and checkpoint is not None:
        state, start, used = processor.restore(checkpoint.snapshot), checkpoint.next_offset, checkpoint.next_offset
    else:
        state, start, used = processor.initial_state(), 0, None
    state, tail = fold_positioned(processor, read_events(bootstrap, codec, topic, start, end), state)
    return Folded(state, end, used, tail)
