"""The idempotent batching sink: the raw rows of many records -> two inserts, the typed rows derived in-engine.

Python maps a record to its raw `events` row only (one decode, one JSON dump per event). The typed read
models are derived inside ClickHouse by materialized views on `events_in`, a Null-engine table with the
columns of `events` (``sql/003_mappings.sql``; the pure Python mapping in `rows.py` is their reference,
and an integration test holds the two equal for every event type).

Idempotence, decided and tested (tests/integration/test_clickhouse_sink.py):

- A batch is written as the same JSONCompactEachRow bytes inserted twice: into `events_in` (its views write
  the typed rows), then into `events`. The raw `events` table is the projection's commit record: a batch's
  `events` rows go in as ONE insert (one block, atomic), after the batch's typed rows. So
  ``max(offset)+1`` per (topic, partition) in `events` (`watermarks`) is exactly how far the projection
  is complete.
- On start-up and before retrying a failed batch, `recover` deletes typed rows beyond those watermarks
  (left by a batch whose `events` insert never happened); the projector then resumes every partition at
  its watermark, whatever Kafka's committed offsets say, and skips anything below it.
- Kafka offsets are committed only after the whole batch is in (they serve lag monitoring).
- All tables are ReplacingMergeTree keyed by the source position, so even a row inserted twice by some
  other writer collapses, and the views read with FINAL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from .rows import COLUMNS, TYPED_TABLES, Row, SourceRecord, raw_row, rows_for

if TYPE_CHECKING:  # not imported at run time: decoding workers import this module and need no client
    from clickhouse_connect.driver.client import Client

log = structlog.get_logger(__name__)

Position = tuple[str, int]

# One block per insert (atomic): no parallel parsing, which splits an insert over 10 MB into several blocks
# and parts (and costs several times the CPU). JSON objects in a String column kept as text, exact floats.
# The typed views of `events_in` run in parallel threads; no dedup pass inside an inserted block (a batch
# never holds a position twice; rows inserted twice by other writers still collapse in merges and FINAL).
INSERT_SETTINGS = {"max_insert_block_size": 10_000_000, "min_insert_block_size_rows": 0,
                   "min_insert_block_size_bytes": 0, "input_format_json_read_objects_as_strings": 1,
                   "precise_float_parsing": 1, "parallel_view_processing": 1, "optimize_on_insert": 0,
                   "input_format_parallel_parsing": 0}
_OPTS = orjson.OPT_SORT_KEYS
STAGING = "events_in"  # Null engine: its materialized views write the typed tables (sql/003_mappings.sql)


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.hex()
    return str(value)


def encode_rows(rows: list[Row]) -> bytes:
    """Rows as JSONCompactEachRow (one JSON array per line; dict values, e.g. payloads, with sorted keys)."""
    dumps = orjson.dumps
    return b"\n".join([dumps(r, default=_default, option=_OPTS) for r in rows])


@dataclass
class Batch:
    """Rows of consecutive records, grouped by table, and the next offset per partition they reach."""

    rows: dict[str, list[Row]] = field(default_factory=lambda: {t: [] for t in COLUMNS})
    next_offsets: dict[Position, int] = field(default_factory=dict)
    records: int = 0

    def add(self, rec: SourceRecord) -> None:
        for table, rows in rows_for(rec).items():
            self.rows[table].extend(rows)
        self.next_offsets[(rec.topic, rec.partition)] = rec.offset + 1
        self.records += 1

    def extend(self, recs: Iterable[SourceRecord]) -> Batch:
        for rec in recs:
            self.add(rec)
        return self

    def encode(self) -> Encoded:
        """The raw rows only: the sink derives the typed rows in the engine (`rows` keeps the reference)."""
        blobs = {"events": [encode_rows(self.rows["events"])]} if self.rows["events"] else {}
        return Encoded(blobs, dict(self.next_offsets), self.records, self.records)


def raw_line(rec: SourceRecord) -> bytes:
    """The record's raw `events` row as one JSONCompactEachRow line."""
    return orjson.dumps(raw_row(rec), default=_default, option=_OPTS)


def event_line(row: Row) -> bytes:
    """A raw row (`rows.event_row`) as one JSONCompactEachRow line."""
    return orjson.dumps(row, default=_default, option=_OPTS)


def encode_events(recs: Iterable[SourceRecord]) -> Encoded:
    """`Batch(...).encode()` without the typed rows: raw rows straight to JSONCompactEachRow."""
    lines: list[bytes] = []
    offsets: dict[Position, int] = {}
    for rec in recs:
        lines.append(raw_line(rec))
        offsets[(rec.topic, rec.partition)] = rec.offset + 1
    return Encoded.of_lines(lines, offsets, len(lines))


@dataclass
class Encoded:
    """A batch ready to insert: JSONCompactEachRow bytes per table (in pieces), positions, counts."""

    blobs: dict[str, list[bytes]]
    next_offsets: dict[Position, int]
    records: int  # records whose rows are in the blobs
    seen: int  # records read (a point-in-time rebuild leaves some out)

    @staticmethod
    def of_lines(lines: list[bytes], next_offsets: dict[Position, int], seen: int) -> Encoded:
        """Raw `events` lines (the typed rows are derived in the engine)."""
        return Encoded({"events": [b"\n".join(lines)]} if lines else {}, next_offsets, len(lines), seen)

    def blob(self, table: str) -> bytes:
        return b"\n".join(p for p in self.blobs.get(table, ()) if p)

    @staticmethod
    def merge(parts: Iterable[Encoded]) -> Encoded:
        out = Encoded({}, {}, 0, 0)
        for part in parts:
            for table, pieces in part.blobs.items():
                out.blobs.setdefault(table, []).extend(pieces)
            out.next_offsets.update(part.next_offsets)
            out.records += part.records
            out.seen += part.seen
        return out


class ClickHouseSink:
    """Writes batches into one database (the live projection or a shadow)."""

    def __init__(self, client: Client, database: str, staged: bool = True) -> None:
        self.client = client
        self.database = database
        self.staged = staged  # as the database was created (`schema.create`): views on `events_in` or `events`

    def write(self, batch: Batch | Encoded) -> None:
        """`events_in` first (typed rows, in-engine), `events` last (one block): see the module doc.

        Raises on failure; `recover` then removes typed rows the batch may have left."""
        enc = batch.encode() if isinstance(batch, Batch) else batch
        data = enc.blob("events")
        if data:
            if self.staged:
                self._insert(STAGING, COLUMNS["events"], data)
            self._insert("events", COLUMNS["events"], data)

    def insert_rows(self, table: str, rows: list[Row]) -> None:
        """One insert of `rows` into `table` (as one block)."""
        self.insert_blob(table, encode_rows(rows) if rows else b"")

    def insert_blob(self, table: str, data: bytes) -> None:
        """One insert of JSONCompactEachRow `data` into `table` itself (no in-engine mapping)."""
        if data:
            self._insert(table, COLUMNS[table], data)

    def _insert(self, table: str, columns: tuple[str, ...], data: bytes) -> None:
        self.client.raw_insert(f"{self.database}.{table}", list(columns), insert_block=data,
                               settings=INSERT_SETTINGS, fmt="JSONCompactEachRow")

    def watermarks(self) -> dict[Position, int]:
        """Next offset to project per (topic, partition): max(offset)+1 of the raw `events` table."""
        res = self.client.query(f"SELECT topic, partition, max(offset) + 1 FROM {self.database}.events "
                                "GROUP BY topic, partition")
        return {(str(t), int(p)): int(o) for t, p, o in res.result_rows}

    def recover(self) -> int:
        """Delete typed rows beyond the `events` watermarks (a half-written batch); return how many."""
        marks = self.watermarks()
        removed = 0
        for table in TYPED_TABLES:
            res = self.client.query(f"SELECT topic, partition, max(offset) + 1, count() FROM "
                                    f"{self.database}.{table} GROUP BY topic, partition")
            for topic, partition, end, _ in res.result_rows:
                mark = marks.get((str(topic), int(partition)), 0)
                if int(end) > mark:
                    removed += self._delete_tail(table, str(topic), int(partition), mark)
        if removed:
            log.warning("projection.recovered", database=self.database, removed_rows=removed)
        return removed

    def _delete_tail(self, table: str, topic: str, partition: int, mark: int) -> int:
        where = f"topic = {{t:String}} AND partition = {partition} AND offset >= {mark}"
        params = {"t": topic}
        n = int(self.client.query(f"SELECT count() FROM {self.database}.{table} WHERE {where}",
                                  parameters=params).result_rows[0][0])
        self.client.command(f"DELETE FROM {self.database}.{table} WHERE {where}", parameters=params)
        return n
