"""The faust-streaming runtime of the Kafka shell: a faust App and agent own the consumer lifecycle
(group join, partition assignment, signals, shutdown); the shell's `Pipeline` does the per-record work.

What faust gives us here, and what it does not:
- the agent reads the input topic with raw bytes (``value_serializer="raw"``): values are decoded by our
  `EventCodec`, never by faust's codecs;
- on every assignment of the input partition the consumer is seeked to the shell's own position
  (`Consumer.seek`): where the processor resumes is decided by the output log and the checkpoint, never
  by faust's committed offsets (faust still commits them; they only serve lag monitoring);
- outputs, dead letters and checkpoints go through the shell's idempotent confluent-kafka producer, not
  faust's producer: one ordered producer is what makes the output log a prefix of the output sequence.
The consumer side of aiokafka needs `cramjam` to read lz4-compressed batches (our producers use lz4).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from pathlib import Path
from typing import Any

import faust
import structlog
from confluent_kafka import Consumer, KafkaException, TopicPartition
from faust.types import TP

from agentic.connectors.kafka import RawProducer

from . import tails
from .kafka import InputGapError, KafkaShell, Pipeline, ShellStats, caught_up
from .marks import NOTHING_WRITTEN
from .protocol import S

log = structlog.get_logger(__name__)

# faust joins a consumer group: after a kill -9 the dead member holds the partition until its session expires,
# so a restart waits up to the session timeout (faust's default: 60 s). 10 s keeps restarts short.
SESSION_TIMEOUT_S = 10.0
# A worker that owns its input partition, is behind its end and has received nothing for this long seeks to its
# position again (see `watch` in `run_faust`): long enough not to fire on a slow fetch of a loaded machine.
STALL_S = 5.0


class _FaustRecord:
    """A faust message seen through the `Record` methods the pipeline reads."""

    __slots__ = ("_m",)

    def __init__(self, message: Any) -> None:
        self._m = message

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return str(self._m.topic)

    def partition(self) -> int:
        return int(self._m.partition)

    def offset(self) -> int:
        return int(self._m.offset)

    def key(self) -> bytes | None:
        return self._m.key  # type: ignore[no-any-return]

    def value(self) -> bytes | None:
        return self._m.value  # type: ignore[no-any-return]

    def headers(self) -> list[tuple[str, bytes]]:
        return list(self._m.headers or [])


def _handle_in_order(pipeline: Pipeline[Any], events: list[Any]) -> bool:
    """Hand the batch to the pipeline up to the first record beyond the next expected offset; False if there
    was one. faust delivers records it fetched from its committed offset before our seek took effect: those
    below the pipeline's position are ignored by it, those beyond it must be re-read after a new seek."""
    expected = pipeline.next_offset
    take: list[_FaustRecord] = []
    for e in events:
        offset = int(e.message.offset)
        if offset > expected:
            pipeline.handle(take)
            return False
        take.append(_FaustRecord(e.message))
        expected = max(expected, offset + 1)
    pipeline.handle(take)
    return True


class _Resyncs:
    """Counts seeks back to the pipeline's position; too many without progress is a real gap in the input."""

    LIMIT = 20

    def __init__(self) -> None:
        self.offset, self.stalled = -1, 0

    def count(self, offset: int, topic: str) -> None:
        self.stalled = self.stalled + 1 if offset == self.offset else 0
        self.offset = offset
        log.warning("shell.faust.resync", topic=topic, offset=offset, stalled=self.stalled)
        if self.stalled >= self.LIMIT:
            raise InputGapError(f"input {topic}: offset {offset} never arrives after {self.LIMIT} seeks; records "
                                "are missing from the topic (compacted or transactional input is not supported)")


def _align_group_offset(bootstrap: str, group_id: str, topic: str, partition: int, offset: int) -> None:
    """Commit the shell's position as the faust group's offset before the worker starts, so that faust fetches
    from there (not from an offset it committed past the last checkpoint before a crash). A group that
    still has a member of a killed worker refuses commits until that member's session expires: retry for a
    session timeout, then go on (the seek on assignment and the resync still keep the order exact)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False})
    deadline = time.monotonic() + SESSION_TIMEOUT_S + 2.0
    try:
        while True:
            try:
                consumer.commit(offsets=[TopicPartition(topic, partition, offset)], asynchronous=False)
                return
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    log.warning("shell.faust.align_failed", group=group_id, offset=offset, error=str(exc))
                    return
                time.sleep(1.0)
    finally:
        consumer.close()


def _stop_service_threads(started: set[threading.Thread], timeout: float = 10.0) -> None:
    """Stop the service threads this run started that outlived the worker (faust's consumer thread, a non-daemon
    `mode` thread, survives a worker stopped while its agent failed, and would keep the process from exiting)."""
    for thread in started:
        loop = getattr(getattr(thread, "service", None), "thread_loop", None)
        if not thread.is_alive() or loop is None or loop.is_closed():
            continue
        log.warning("shell.faust.thread_left", thread=thread.name)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)


def run_faust(shell: KafkaShell[S], datadir: Path, until_idle: bool = False,
              stop: threading.Event | None = None) -> ShellStats:
    """Recover, then run the processor as a faust agent until a signal, ``stop``, or (``until_idle``) caught up."""
    rec = shell.recover()
    cfg = shell.config
    _align_group_offset(cfg.bootstrap, shell.group_id, shell.topic, shell.partition, rec.next_offset)
    producer = RawProducer(cfg.bootstrap)
    pipeline = Pipeline(shell, rec, producer)
    app = faust.App(shell.group_id, broker=f"kafka://{cfg.bootstrap}", value_serializer="raw", key_serializer="raw",
                    store="memory://", web_enabled=False, datadir=str(datadir), topic_partitions=1,
                    consumer_auto_offset_reset="earliest", stream_buffer_maxsize=cfg.batch,
                    broker_session_timeout=SESSION_TIMEOUT_S, broker_heartbeat_interval=1.0,
                    broker_rebalance_timeout=SESSION_TIMEOUT_S, broker_max_poll_records=cfg.batch)
    source = app.topic(shell.topic, value_type=bytes, key_type=bytes, partitions=1)
    worker = faust.Worker(app, loglevel="warn", quiet=True, redirect_stdouts=False, override_logging=False,
                          stdout=sys.stderr)  # stdout stays ours (the CLI prints its JSON result there)
    worker.spinner = None  # no terminal spinner in logs

    async def on_assigned(sender: Any, *args: Any, signal: Any = None, **kw: Any) -> None:
        assigned: set[TP] = kw.get("assigned") or (args[0] if args else set())
        for tp in assigned:
            if tp.topic == shell.topic:
                # another member may have owned the partition since we read the log: if the output log moved,
                # rebuild from the log (checkpoint + tail) instead of trusting our state
                now = tails.last_mark(cfg.bootstrap, shell.processor.output, 0, shell.processor.name)
                if (now or NOTHING_WRITTEN) != pipeline.written:
                    pipeline.reset(shell.recover())
                await app.consumer.seek(tp, pipeline.next_offset)
                pipeline.last_input_at = time.monotonic()  # the stall guard counts from the assignment
                log.info("shell.faust.seek", topic=tp.topic, partition=tp.partition, offset=pipeline.next_offset)

    async def on_revoked(sender: Any, *args: Any, signal: Any = None, **kw: Any) -> None:
        producer.flush()  # whoever gets the partition next must see every output we sent

    app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]  # mode's stub wants a positional-only sender
    app.on_partitions_revoked.connect(on_revoked)  # type: ignore[arg-type]

    failures: list[Exception] = []
    resyncs = _Resyncs()

    async def process(stream: Any) -> None:
        try:
            async for events in stream.take_events(cfg.batch, within=0.05):
                if not _handle_in_order(pipeline, events):
                    resyncs.count(pipeline.next_offset, shell.topic)
                    await app.consumer.seek(TP(shell.topic, shell.partition), pipeline.next_offset)
        except Exception as exc:  # faust would restart the agent past the failed batch: stop the worker instead
            failures.append(exc)
            log.error("shell.faust.failed", processor=shell.processor.name, error=repr(exc))
            stopping.append(asyncio.ensure_future(worker.stop()))

    app.agent(source, name=f"{shell.processor.name}-agent")(process)

    async def watch() -> None:
        idle_check = 0.0
        tp = TP(shell.topic, shell.partition)
        wait = cfg.idle_timeout if until_idle else STALL_S
        while True:
            await asyncio.sleep(0.2)
            if stop is not None and stop.is_set():
                break
            now = time.monotonic()
            idle = now - pipeline.last_input_at
            if idle <= wait or now - idle_check < max(1.0, wait):
                continue
            idle_check = now
            if caught_up(cfg.bootstrap, shell.topic, shell.partition, pipeline.next_offset):
                if until_idle:
                    break
            elif idle > STALL_S and tp in app.consumer.assignment():
                # behind the end and nothing arrives: the fetcher went on from faust's committed offset (at the
                # end after a kill) and our seek on assignment was lost; seek again (observed)
                log.warning("shell.faust.stalled", topic=shell.topic, offset=pipeline.next_offset,
                            idle_s=round(idle, 1))
                await app.consumer.seek(tp, pipeline.next_offset)
        stopping.append(asyncio.ensure_future(worker.stop()))

    stopping: list[asyncio.Future[Any]] = []
    app.task(watch)
    before = set(threading.enumerate())
    try:
        with contextlib.suppress(SystemExit):  # the worker exits the way a command line does
            worker.execute_from_commandline()
    finally:
        _stop_service_threads(set(threading.enumerate()) - before)
    if failures:  # no checkpoint of a state that may be half-way through a batch; a restart resumes exactly
        raise failures[0]
    pipeline.checkpoint()
    log.info("shell.stopped", processor=shell.processor.name, runtime="faust", **shell.stats.as_dict())
    return shell.stats
