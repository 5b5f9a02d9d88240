"""Order-independent checksums of the projection's tables, and the precise difference of two databases.

A table's checksum is (row count, wrapping sum of a 64-bit hash of every projected column), so it does not
depend on insert order or part layout, and it changes if a row is altered, lost or inserted twice.
Columns filled by the engine (``ingest_time``, ``occurred_at``) are left out: they are not part of the log.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from .rows import COLUMNS

Checksum = tuple[int, int]


def row_hash_sql(table: str) -> str:
    cols = ", ".join(f"`{c}`" for c in COLUMNS[table])
    return f"cityHash64(toJSONString(tuple({cols})))"


def key_sql(table: str) -> str:
    return "topic, partition, offset" + (", idx" if "idx" in COLUMNS[table] else "")


def table_checksum(client: Client, database: str, table: str) -> Checksum:
    res = client.query(f"SELECT count(), sumWithOverflow({row_hash_sql(table)}) FROM {database}.{table}")
    count, total = res.result_rows[0]
    return int(count), int(total)


def table_checksums(client: Client, database: str) -> dict[str, Checksum]:
    return {table: table_checksum(client, database, table) for table in COLUMNS}


@dataclass(frozen=True, slots=True)
class RowDifference:
    """One source position whose row differs: missing on one side, or different content."""

    table: str
    topic: str
    partition: int
    offset: int
    idx: int
    kind: str  # "missing_in_live", "missing_in_rebuild", "differs", "duplicated_in_live", ...
    event_type: str
    event_id: str

    def describe(self) -> str:
        return (f"{self.table}: {self.kind} at {self.topic}[{self.partition}]@{self.offset}"
                f"#{self.idx} ({self.event_type} {self.event_id})")


def differences(client: Client, live: str, rebuilt: str, table: str, limit: int = 20) -> list[RowDifference]:
    """The positions where `table` differs between database `live` and database `rebuilt`."""
    key, h = key_sql(table), row_hash_sql(table)
    idx = "idx" if "idx" in COLUMNS[table] else "toUInt32(0)"
    side = (f"SELECT topic, partition, offset, {idx} AS idx, any(event_type) AS et, any(event_id) AS eid, "
            f"groupArray({h}) AS hs FROM {{db}}.{table} GROUP BY {key}")
    sql = f"""
        SELECT if(l.topic = '', r.topic, l.topic), if(l.topic = '', r.partition, l.partition),
               if(l.topic = '', r.offset, l.offset), if(l.topic = '', r.idx, l.idx),
               multiIf(l.topic = '', 'missing_in_live', r.topic = '', 'missing_in_rebuild',
                       length(l.hs) > 1, 'duplicated_in_live', length(r.hs) > 1, 'duplicated_in_rebuild',
                       'differs'),
               if(l.topic = '', r.et, l.et), if(l.topic = '', r.eid, l.eid)
        FROM ({side.format(db=live)}) AS l
        FULL OUTER JOIN ({side.format(db=rebuilt)}) AS r
          ON l.topic = r.topic AND l.partition = r.partition AND l.offset = r.offset AND l.idx = r.idx
        WHERE l.topic = '' OR r.topic = '' OR arraySort(l.hs) != arraySort(r.hs)
        ORDER BY 1, 2, 3, 4 LIMIT {int(limit)}
        SETTINGS join_use_nulls = 0"""
    return [RowDifference(table, str(t), int(p), int(o), int(i), str(k), str(et), str(eid))
            for t, p, o, i, k, et, eid in client.query(sql).result_rows]
