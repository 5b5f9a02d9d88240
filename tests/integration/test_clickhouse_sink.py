"""The idempotent sink against the real ClickHouse engine (chDB in-process, one data folder per session)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from agentic.config import Settings
from agentic.connectors.clickhouse import open_client
from agentic.projections.clickhouse import schema
from agentic.projections.clickhouse.checksums import table_checksums
from agentic.projections.clickhouse.rows import COLUMNS, TYPED_TABLES, SourceRecord
from agentic.projections.clickhouse.sink import Batch, ClickHouseSink
from agentic.schemas.codec import event_to_json
from agentic.schemas.samples import sample_events

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """One chDB folder per module: a process may have one open at a time (closed at the module's end)."""
    settings = Settings(state_dir=Path(tmp_path_factory.mktemp("state")))
    client = open_client(settings)
    yield client
    client.close()


@pytest.fixture()
def database(chdb: Client) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:10]}"
    schema.create(chdb, name)
    yield name
    schema.drop(chdb, name)


def records(n: int, start: int = 0) -> list[SourceRecord]:
    events = sample_events(n + start, seed=3)[start:]
    return [SourceRecord("agentic.test", 0, start + i, b"k", event_to_json(e)) for i, e in enumerate(events)]


def counts(client: Client, db: str) -> dict[str, int]:
    return {t: int(client.query(f"SELECT count() FROM {db}.{t}").result_rows[0][0]) for t in COLUMNS}


def test_schema_columns_match_the_row_mapping(chdb: Client, database: str) -> None:
    for table, columns in COLUMNS.items():
        described = [r[0] for r in chdb.query(f"DESCRIBE TABLE {database}.{table}").result_rows]
        assert tuple(c for c in described if c not in ("occurred_at", "ingest_time")) == columns


def test_watermark_is_the_next_offset_of_the_raw_table(chdb: Client, database: str) -> None:
    sink = ClickHouseSink(chdb, database)
    assert sink.watermarks() == {}
    sink.write(Batch().extend(records(40)))
    assert sink.watermarks() == {("agentic.test", 0): 40}


def test_half_written_batch_is_recovered_to_exactly_one_uninterrupted_run(chdb: Client, database: str) -> None:
    whole = f"{database}_whole"
    schema.create(chdb, whole)
    try:
        ClickHouseSink(chdb, whole).write(Batch().extend(records(120)))
        sink = ClickHouseSink(chdb, database)
        sink.write(Batch().extend(records(60)))
        crashed = Batch().extend(records(60, start=60))
        for table in TYPED_TABLES:  # the crash: typed rows went in, the raw `events` insert never did
            sink.insert_rows(table, crashed.rows[table])
        assert counts(chdb, database) != counts(chdb, whole)
        assert sink.recover() > 0
        resume = sink.watermarks()[("agentic.test", 0)]
        sink.write(Batch().extend(records(120 - resume, start=resume)))
        assert counts(chdb, database) == counts(chdb, whole)
        assert table_checksums(chdb, database) == table_checksums(chdb, whole)
    finally:
        schema.drop(chdb, whole)


def test_views_answer_after_a_write(chdb: Client, database: str) -> None:
    ClickHouseSink(chdb, database).write(Batch().extend(records(200)))
    for view in ("task_latest", "node_capacity", "allocation_intervals", "gpu_allocation_timeline",
                 "queue_waits", "tenant_usage", "tool_call_audit", "model_costs", "gpu_utilisation_timeline"):
        chdb.query(f"SELECT * FROM {database}.{view}")
    total = chdb.query(f"SELECT sum(events) FROM {database}.events_per_minute").result_rows[0][0]
    assert total == 200


def test_differences_name_the_corrupted_missing_and_duplicated_rows(chdb: Client, database: str) -> None:
    from agentic.projections.clickhouse.checksums import differences

    other = f"{database}_other"
    schema.create(chdb, other)
    try:
        for db in (database, other):
            ClickHouseSink(chdb, db).write(Batch().extend(records(50)))
        assert table_checksums(chdb, database) == table_checksums(chdb, other)
        chdb.command(f"ALTER TABLE {database}.events UPDATE tenant = 'evil' WHERE offset = 17 "
                     "SETTINGS mutations_sync = 2")
        chdb.command(f"DELETE FROM {other}.events WHERE offset = 23")
        again = Batch().extend(records(1, start=30))
        ClickHouseSink(chdb, database).insert_rows("events", again.rows["events"])
        assert table_checksums(chdb, database)["events"] != table_checksums(chdb, other)["events"]
        found = {(d.offset, d.kind) for d in differences(chdb, database, other, "events")}
        assert found == {(17, "differs"), (23, "missing_in_rebuild"), (30, "duplicated_in_live")}
    finally:
        schema.drop(chdb, other)


def test_in_engine_typed_rows_equal_the_python_reference_mapping_for_every_event_type(
        chdb: Client, database: str) -> None:
    """The materialized views (sql/003_mappings.sql) and `rows.rows_for` give the same rows, value for value."""
    from agentic.projections.clickhouse.checksums import differences
    from agentic.projections.clickhouse.rows import MAPPERS
    from agentic.schemas.samples import sample_event

    events = [event_to_json(sample_event(et, i)) for i in range(6) for et in sorted(MAPPERS)]
    recs = [SourceRecord("agentic.test", 1, i, b"k", ev) for i, ev in enumerate(events)]
    batch = Batch().extend(recs)
    ClickHouseSink(chdb, database).write(batch)  # typed rows by the views
    reference = f"{database}_ref"
    schema.create(chdb, reference)
    try:
        ref = ClickHouseSink(chdb, reference)
        for table in COLUMNS:  # typed rows by the Python mapping, inserted as they are
            ref.insert_rows(table, batch.rows[table])
        assert all(counts(chdb, reference)[t] > 0 for t in TYPED_TABLES)
        diffs = {t: [d.describe() for d in differences(chdb, database, reference, t, 5)] for t in COLUMNS}
        assert {t: d for t, d in diffs.items() if d} == {}
        assert table_checksums(chdb, database) == table_checksums(chdb, reference)
    finally:
        schema.drop(chdb, reference)


def test_a_batch_bigger_than_a_parallel_parsing_chunk_is_still_one_block(chdb: Client, database: str) -> None:
    """The commit record must be atomic: ClickHouse splits inserts over 10 MB into several blocks unless told not to."""
    from agentic.projections.clickhouse.sink import encode_events

    events = [event_to_json(e) for e in sample_events(50, seed=3)]
    enc = encode_events(SourceRecord("agentic.test", 0, i, b"k", events[i % 50]) for i in range(60_000))
    assert len(enc.blob("events")) > 10 * 2**20
    chdb.command(f"SYSTEM STOP MERGES {database}.events")
    ClickHouseSink(chdb, database).write(enc)
    parts = chdb.query("SELECT count() FROM system.parts WHERE database = {db:String} AND table = 'events' "
                       "AND active", parameters={"db": database}).result_rows[0][0]
    assert (parts, counts(chdb, database)["events"]) == (1, 60_000)
