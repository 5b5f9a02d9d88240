"""The projector shell: Kafka event topics -> `Batch` (pure mapping) -> `ClickHouseSink`.

Loop: poll a bounded batch (backpressure: nothing more is read while a batch is being written or retried),
map it, write it (retrying with exponential backoff while ClickHouse is unavailable, `recover` before each
retry), then commit the Kafka offsets. Start-up resumes every partition at the sink's watermark.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import structlog
from confluent_kafka import Consumer, TopicPartition

from agentic.connectors.kafka_positions import assigned_consumer, end_offsets, partitions_of
from agentic.schemas.codec import SchemaIds
from agentic.schemas.topics import TOPICS

from . import schema
from .decode import DictDecoder
from .parallel import ChunkMapper, Pending, RawRecord, default_workers
from .sink import ClickHouseSink, Encoded, Position

log = structlog.get_logger(__name__)

EVENT_TOPICS: tuple[str, ...] = tuple(t.name for t in TOPICS if t.event_types)
GROUP_ID = "agentic-projector-clickhouse"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ProjectorConfig:
    topics: tuple[str, ...] = EVENT_TOPICS
    group_id: str = GROUP_ID
    database: str = schema.LIVE_DB
    batch_records: int = 50_000  # bigger blocks: fewer parts per table (22.5 vs 29.3 us CPU/event at 20,000)
    linger_s: float = 0.3
    retry_initial_s: float = 0.5
    retry_max_s: float = 15.0
    workers: int | None = 0  # processes decoding and mapping (0: in this process; None: `default_workers()`)
    registry_url: str = ""  # for the workers' own registry clients (needed when workers > 0)


@dataclass
class Progress:
    """What the projector has done so far; `lag` is records written to Kafka but not yet projected."""

    records: int = 0
    batches: int = 0
    retries: int = 0
    positions: dict[Position, int] = field(default_factory=dict)
    ends: dict[Position, int] = field(default_factory=dict)
    last_error: str = ""

    @property
    def lag(self) -> int:
        return sum(max(0, end - self.positions.get(tp, 0)) for tp, end in self.ends.items())


class Projector:
    """One projector process: owns its consumer and sink; `run` until stopped or caught up."""

    def __init__(self, bootstrap: str, sink: ClickHouseSink, ids: SchemaIds,
                 config: ProjectorConfig = ProjectorConfig(),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.bootstrap = bootstrap
        self.sink = sink
        self.config = config
        self.decoder = DictDecoder(ids)
        workers = default_workers() if config.workers is None else config.workers
        self.mapper = ChunkMapper(self.decoder, config.registry_url, workers)
        self._inflight: Pending | None = None
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="projector-writer")
        self.progress = Progress()
        self._sleep = sleep
        self._consumer: Consumer | None = None

    # ---- start-up
    def start(self) -> None:
        self._retrying(lambda: schema.create(self.sink.client, self.config.database), "create tables")
        self._retrying(self.sink.recover, "recover")
        marks = self._retrying(self.sink.watermarks, "read watermarks")
        parts = partitions_of(self.bootstrap, self.config.topics)
        positions = {tp: marks.get(tp, 0) for tp in parts}
        self.progress.positions = dict(positions)
        self._consumer = assigned_consumer(self.bootstrap, self.config.group_id, positions)
        self.mapper.__enter__()
        self.refresh_lag()
        log.info("projector.started", database=self.config.database, partitions=len(parts),
                 resume_at=sum(positions.values()), lag=self.progress.lag)

    def refresh_lag(self) -> int:
        self.progress.ends = end_offsets(self.bootstrap, self.config.topics)
        return self.progress.lag

    # ---- one batch
    def poll_batch(self) -> Encoded:
        """Up to `batch_records` new records (or what came within `linger_s`), decoded and mapped."""
        return self.mapper.map(self.poll_raw())

    def poll_raw(self) -> list[RawRecord]:
        """Up to `batch_records` new raw records, or what came within `linger_s`."""
        assert self._consumer is not None, "call start() first"
        raws: list[RawRecord] = []
        deadline = time.monotonic() + self.config.linger_s
        positions = self.progress.positions
        while len(raws) < self.config.batch_records:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for msg in self._consumer.consume(min(10_000, self.config.batch_records - len(raws)), left):
                if msg.error() is not None:
                    log.warning("projector.kafka_error", error=str(msg.error()))
                    continue
                topic, partition, offset = str(msg.topic()), int(msg.partition() or 0), int(msg.offset() or 0)
                if offset < positions.get((topic, partition), 0):
                    continue  # already projected (a redelivery)
                raws.append((topic, partition, offset, msg.key(), msg.value()))
        return raws

    def write(self, batch: Encoded) -> None:
        """Write `batch` (retrying with backoff, recovering before each retry), then commit offsets."""
        self.insert(batch)
        self.committed(batch)

    def insert(self, batch: Encoded) -> None:
        """Write `batch` into the sink, retrying with backoff and recovering before each retry."""
        if not batch.records:
            return
        first = True

        def attempt() -> None:
            nonlocal first
            if not first:
                self.sink.recover()
            first = False
            self.sink.write(batch)

        self._retrying(attempt, "write batch")

    def committed(self, batch: Encoded) -> None:
        """Record `batch` as projected (it is in the sink) and commit its Kafka offsets."""
        if not batch.records:
            return
        self.progress.positions.update(batch.next_offsets)
        self.progress.records += batch.records
        self.progress.batches += 1
        self._commit(batch.next_offsets)

    def _commit(self, offsets: dict[Position, int]) -> None:
        assert self._consumer is not None
        tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            self._consumer.commit(offsets=tps, asynchronous=False)
        except Exception as exc:  # the sink's watermark is the truth; a lost commit only delays lag display
            log.warning("projector.commit_failed", error=str(exc))

    def step(self) -> int:
        """Write the batch mapped during the previous step while the next one is polled and mapped.

        Returns how many records were written. Batch k is inserted on a writer thread (chDB releases the
        GIL) while this thread polls batch k+1 from Kafka and maps it (or the workers do); batch k's offsets
        are committed here once its insert is done. Nothing more is read until batch k is in
        (backpressure: one batch written, one read, at a time)."""
        batch = self._inflight.get() if self._inflight is not None else None
        job = self._writer.submit(self.insert, batch) if batch is not None else None
        raws = self.poll_raw()
        nxt = self.mapper.map_async(raws) if raws else None
        if job is not None and batch is not None:
            job.result()
            self.committed(batch)
        self._inflight = nxt
        return batch.seen if batch is not None else 0

    @property
    def busy(self) -> bool:
        """A batch is being mapped and not yet written."""
        return self._inflight is not None

    # ---- loops
    def run(self, should_stop: Callable[[], bool] = lambda: False,
            on_batch: Callable[[Progress], None] | None = None, until_caught_up: bool = False,
            lag_every_s: float = 2.0) -> Progress:
        if self._consumer is None:
            self.start()
        last_lag = time.monotonic()
        while not should_stop():
            n = self.step()
            if time.monotonic() - last_lag > lag_every_s or (until_caught_up and n == 0):
                self.refresh_lag()
                last_lag = time.monotonic()
            if on_batch is not None:
                on_batch(self.progress)
            if until_caught_up and n == 0 and not self.busy and self.progress.lag == 0:
                break
        return self.progress

    def catch_up(self, targets: dict[Position, int] | None = None, timeout_s: float = 300.0) -> Progress:
        """Project until every partition reaches `targets` (default: the current end offsets)."""
        if self._consumer is None:
            self.start()
        goal = targets if targets is not None else end_offsets(self.bootstrap, self.config.topics)
        deadline = time.monotonic() + timeout_s
        while any(self.progress.positions.get(tp, 0) < off for tp, off in goal.items()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"projector did not reach {goal} within {timeout_s:.0f}s "
                                   f"(at {self.progress.positions})")
            self.step()
        return self.progress

    def close(self) -> None:
        self._inflight = None  # mapped but not written: the next start resumes at the watermark anyway
        self.mapper.close()
        self._writer.shutdown(wait=True)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="projector-writer")  # start() may follow
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    # ---- retries
    def _retrying(self, fn: Callable[[], T], what: str) -> T:
        delay = self.config.retry_initial_s
        while True:
            try:
                result = fn()
                if self.progress.last_error:
                    log.info("projector.clickhouse_back", step=what, retries=self.progress.retries)
                    self.progress.last_error = ""
                return result
            except Exception as exc:  # ClickHouse down or refusing: back off, keep the batch, try again
                self.progress.retries += 1
                self.progress.last_error = f"{what}: {type(exc).__name__}: {str(exc)[:200]}"
                log.warning("projector.retrying", step=what, delay_s=round(delay, 2),
                            error=self.progress.last_error, lag=self.progress.lag)
                self._sleep(delay)
                delay = min(self.config.retry_max_s, delay * 2)


def topics_of(names: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(names) if names else EVENT_TOPICS
