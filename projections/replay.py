"""Replay: rebuild the projection from offset 0 into a shadow database, compare it with the live one,
reconstruct the state as of a past moment, and re-derive processor decisions from their recorded inputs.

Everything here reads Kafka with explicit offsets (no consumer group state is touched) and writes only
to non-live databases. The live projection and its rebuild go through the same decoder, the same raw rows
and the same SQL mapping (`clickhouse/sql/003_mappings.sql`), so equal logs must give equal checksums; any
difference is reported by table and source position.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from clickhouse_connect.driver.client import Client

from agentic.connectors.kafka import header_pairs
from agentic.connectors.kafka_positions import Position, assigned_consumer
from agentic.schemas.errors import DecodeError

from .clickhouse import schema
from .clickhouse.checksums import Checksum, RowDifference, differences, table_checksums
from .clickhouse.decode import DictDecoder
from .clickhouse.parallel import ChunkMapper, Pending, RawRecord, default_workers
from .clickhouse.rows import COLUMNS, SourceRecord
from .clickhouse.sink import ClickHouseSink

log = structlog.get_logger(__name__)

REPLAY_GROUP = "agentic-replay"
ASOF_DB = "agentic_asof"
MIN_RECORDS_FOR_WORKERS = 60_000


# ----------------------------------------------------------------------------------- reading the log


def _left(remaining: dict[Position, int], at: dict[Position, int]) -> int:
    """How many records one batch call may ask for: at most 10,000, at most what is left to read (offsets
    are contiguous in our idempotent, non-transactional topics; a gap only makes a call wait as before)."""
    return max(1, min(10_000, sum(end - at.get(tp, 0) for tp, end in remaining.items())))


def _in_range(consumer: Any, targets: dict[Position, int],
              idle_timeout_s: float | None) -> Iterator[list[tuple[Position, int, Any]]]:
    """Batches of (partition, offset, message) of an assigned consumer, every record from offset 0 up to
    (excluding) `targets[partition]` and nothing else, until all are read. Each batch call asks for at most
    what is left (`_left`). With `idle_timeout_s`, a wait that long with nothing fetched raises."""
    remaining = dict(targets)
    at = dict.fromkeys(remaining, 0)  # next offset expected per partition
    last = time.monotonic()
    while remaining:
        # never ask for more than is left: a batch call waits for as many records as it asked for or
        # its whole timeout, so asking for 10,000 with a few left idled 0.5 s at the end of every read
        msgs = consumer.consume(_left(remaining, at), 0.5)
        batch: list[tuple[Position, int, Any]] = []
        for msg in msgs:
            if msg.error() is not None:
                continue
            tp = (str(msg.topic()), int(msg.partition() or 0))
            offset = int(msg.offset() or 0)
            end = remaining.get(tp)
            if end is None or offset >= end:
                continue
            batch.append((tp, offset, msg))
            at[tp] = offset + 1
            if offset + 1 >= end:
                del remaining[tp]
        if msgs:
            last = time.monotonic()
        elif idle_timeout_s is not None and time.monotonic() - last > idle_timeout_s:
            raise TimeoutError(f"replay: no records for {idle_timeout_s:.0f}s while still expecting "
                               f"{remaining}; was the topic truncated?")
        yield batch


def read_log(bootstrap: str, targets: dict[Position, int], chunk: int = 50_000,
             idle_timeout_s: float = 30.0) -> Iterator[list[RawRecord]]:
    """Every raw record of every partition from offset 0 up to (excluding) `targets[partition]`, in chunks."""
    remaining = {tp: end for tp, end in targets.items() if end > 0}
    if not remaining:
        return
    consumer = assigned_consumer(bootstrap, REPLAY_GROUP, dict.fromkeys(remaining, 0))
    out: list[RawRecord] = []
    try:
        for batch in _in_range(consumer, remaining, idle_timeout_s):
            out += [(tp[0], tp[1], offset, msg.key(), msg.value()) for tp, offset, msg in batch]
            if len(out) >= chunk:
                yield out
                out = []
        if out:
            yield out
    finally:
        consumer.close()


# -------------------------------------------------------------------------------------- rebuilding


@dataclass(frozen=True, slots=True)
class Cutoff:
    """Which records a point-in-time rebuild keeps: event time at or before `time_ms`, and/or offsets at or
    before `offset` (in every partition)."""

    time_ms: int | None = None
    offset: int | None = None

    def keeps(self, rec: SourceRecord) -> bool:
        if self.offset is not None and rec.offset > self.offset:
            return False
        if self.time_ms is not None:
            if rec.event is None:
                return False
            return int(rec.event["envelope"]["occurred_at"]) <= self.time_ms
        return True


@dataclass(frozen=True, slots=True)
class RebuildStats:
    database: str
    records: int
    kept: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def rebuild(client: Client, bootstrap: str, decoder: DictDecoder, database: str,
            targets: dict[Position, int], cutoff: Cutoff | None = None, batch_records: int = 50_000,
            on_progress: Callable[[int], None] | None = None, workers: int | None = 0,
            registry_url: str = "") -> RebuildStats:
    """Recreate `database` and project the log into it up to `targets` (keeping what `cutoff` keeps).

    Batches go through the live projection's sink (typed rows by the same views); a writer thread inserts
    batch k while batch k+1 is read from Kafka and decoded (with `workers` > 0 decoding runs in that many processes,
    `ChunkMapper`). Deriving the typed tables from the rebuilt `events` at the end instead was measured
    slower (17 vs 10 µs of engine CPU per event: it reads and parses the payloads again)."""
    schema.recreate(client, database, staged=False)  # rebuilt from scratch: views on `events`, one insert
    sink = ClickHouseSink(client, database, staged=False)
    started = time.perf_counter()
    seen = kept = 0
    keep = cutoff.keeps if cutoff is not None else None
    workers = default_workers() if workers is None else workers
    if sum(targets.values()) < MIN_RECORDS_FOR_WORKERS:
        workers = 0  # starting worker processes costs more than it saves on a small log
    with ChunkMapper(decoder, registry_url, workers) as mapper, ThreadPoolExecutor(1) as writer:
        chunks = read_log(bootstrap, targets, chunk=batch_records)
        inflight: Pending | None = None
        while True:
            enc = inflight.get() if inflight is not None else None
            job = writer.submit(sink.write, enc) if enc is not None else None  # batch k is inserted...
            raws = next(chunks, None)  # ...while batch k+1 is read...
            inflight = mapper.map_async(raws, keep) if raws else None  # ...and mapped
            if job is not None and enc is not None:
                job.result()
                seen += enc.seen
                kept += enc.records
                if on_progress is not None:
                    on_progress(seen)
            if inflight is None:
                break
    return RebuildStats(database, seen, kept, time.perf_counter() - started)


# -------------------------------------------------------------------------------------- comparing


@dataclass(frozen=True, slots=True)
class TableCheck:
    table: str
    live: Checksum
    rebuilt: Checksum
    differences: tuple[RowDifference, ...] = ()

    @property
    def ok(self) -> bool:
        return self.live == self.rebuilt


def compare(client: Client, live: str, rebuilt: str, limit: int = 20) -> list[TableCheck]:
    """Checksums of every table in both databases; for each table that differs, the differing rows."""
    a, b = table_checksums(client, live), table_checksums(client, rebuilt)
    return [TableCheck(t, a[t], b[t], () if a[t] == b[t] else tuple(differences(client, live, rebuilt, t, limit)))
            for t in COLUMNS]


# ------------------------------------------------------------------------------ processor decisions


class DecisionProcessor(Protocol):
    """The part of `agentic.streams.shell.Processor` replay needs: a pure step over typed events."""

    @property
    def name(self) -> str: ...

    @property
    def inputs(self) -> tuple[str, ...]: ...

    @property
    def output(self) -> str: ...

    def initial_state(self) -> Any: ...

    def step(self, state: Any, event: Any) -> tuple[Any, Sequence[Any]]: ...


@dataclass(frozen=True, slots=True)
class DecisionMismatch:
    position: int  # offset of the decision in the decision log (-1: missing from the log)
    mark: tuple[int, int]  # (input offset, index among that input's decisions)
    recorded: str
    recomputed: str
    cause: str


@dataclass
class DecisionCheck:
    processor: str
    inputs: int = 0
    undecodable_inputs: int = 0
    recorded: int = 0
    foreign: int = 0  # records of the decision topic not written by this processor (no mark header)
    recomputed: int = 0
    identical: int = 0
    ahead: int = 0  # re-derived decisions after the last recorded one: inputs the live processor has not reached
    mismatch_count: int = 0
    mismatches: list[DecisionMismatch] = field(default_factory=list)  # the first `limit` of them

    @property
    def ok(self) -> bool:
        return self.mismatch_count == 0


Record = tuple[int, bytes, list[tuple[str, bytes | None]]]
ReadRecords = Callable[[str], Iterator[Record]]


def verify_decisions(processor: DecisionProcessor, codec: Any, read_records: ReadRecords,
                     limit: int = 20) -> DecisionCheck:
    """Re-run `processor` over its recorded inputs; compare every re-encoded decision with the recorded bytes.

    Each recorded decision carries its mark (the input offset and its index among that input's decisions,
    `agentic.streams.shell.marks`), so it is compared with exactly the decision re-derived from that input.
    Records without this processor's mark are counted as foreign; re-derived decisions past the last
    recorded mark are inputs the live processor has not reached yet. Everything else must be identical.
    """
    from agentic.streams.shell import Unprocessable
    from agentic.streams.shell.marks import mark_of

    check = DecisionCheck(processor.name)
    state = processor.initial_state()
    derived: dict[tuple[int, int], tuple[bytes, str]] = {}
    for offset, value, _ in read_records(processor.inputs[0]):
        try:
            event = codec.decode(value)
            state, outputs = processor.step(state, event)
        except (DecodeError, Unprocessable):
            check.undecodable_inputs += 1  # the shell dead-lettered it: no decision came from it
            continue
        check.inputs += 1
        cause = f"input @{offset} {event.envelope.event_type} {event.envelope.event_id}"
        for index, out in enumerate(outputs):
            derived[(offset, index)] = (codec.encode(out), cause)
    check.recomputed = len(derived)
    seen: set[tuple[int, int]] = set()
    for position, recorded, headers in read_records(processor.output):
        mark = mark_of(headers, processor.name)
        if mark is None:
            check.foreign += 1
            continue
        check.recorded += 1
        key = (mark.offset, mark.index)
        seen.add(key)
        mine, cause = derived.get(key, (None, "no input explains this recorded decision"))
        if mine == recorded:
            check.identical += 1
        else:
            _mismatch(check, DecisionMismatch(position, key, _describe(codec, recorded), _describe(codec, mine),
                                              cause), limit)
    last = max(seen, default=(-1, -1))
    for key in sorted(k for k in derived if k not in seen):
        if key > last:
            check.ahead += 1
        else:
            mine, cause = derived[key]
            _mismatch(check, DecisionMismatch(-1, key, "(missing from the decision log)", _describe(codec, mine),
                                              cause), limit)
    return check


def _describe(codec: Any, data: bytes | None) -> str:
    if data is None:
        return "(nothing)"
    try:
        ev = codec.decode(data)
        return f"{ev.envelope.event_type} {ev.envelope.event_id} task={getattr(ev, 'task_id', '-')}"
    except Exception as exc:  # a corrupt recorded decision is itself the finding
        return f"undecodable ({exc})"


def _mismatch(check: DecisionCheck, m: DecisionMismatch, limit: int) -> None:
    check.mismatch_count += 1
    if len(check.mismatches) < limit:
        check.mismatches.append(m)


def topic_records(bootstrap: str, topic_ends: dict[Position, int]) -> ReadRecords:
    """A `read_records` for `verify_decisions` over raw Kafka records, up to the given end offsets."""

    def read(topic: str) -> Iterator[Record]:
        targets = {tp: end for tp, end in topic_ends.items() if tp[0] == topic and end > 0}
        if not targets:
            return
        consumer = assigned_consumer(bootstrap, REPLAY_GROUP, dict.fromkeys(targets, 0))
        try:
            for batch in _in_range(consumer, targets, idle_timeout_s=None):
                for _, offset, msg in batch:
                    yield offset, bytes(msg.value() or b""), header_pairs(msg)
        finally:
            consumer.close()

    return read
