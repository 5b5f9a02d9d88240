"""The idempotent batching sink: rows of many records -> one insert per table, raw `events` last.

Idempotence, decided and tested (tests/integration/test_clickhouse_sink.py):

- The raw `events` table is the projection's commit record: a batch's `events` rows go in as ONE insert
  (one block, atomic), after the batch's typed rows. So ``max(offset)+1`` per (topic, partition) in
  `events` (`watermarks`) is exactly how far the projection is complete.
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

import structlog
from clickhouse_connect.driver.client import Client

from .rows import COLUMNS, TYPED_TABLES, Row, SourceRecord, rows_for

log = structlog.get_logger(__name__)

Position = tuple[str, int]


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


class ClickHouseSink:
    """Writes batches into one database (the live projection or a shadow)."""

    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.database = database

    def write(self, batch: Batch) -> None:
        """Typed tables first, `events` last (one block): see the module doc. Raises on failure."""
        for table in TYPED_TABLES:
            self._insert(table, batch.rows[table])
        self._insert("events", batch.rows["events"])

    def _insert(self, table: str, rows: list[Row]) -> None:
        if rows:
            self.client.insert(table, rows, column_names=list(COLUMNS[table]), database=self.database,
                               settings={"max_insert_block_size": 10_000_000})

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
