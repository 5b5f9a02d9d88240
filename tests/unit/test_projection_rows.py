"""The pure event -> rows mapping of the ClickHouse projection."""

from __future__ import annotations

import pytest

from agentic.events import EVENT_CLASSES
from agentic.projections.clickhouse.rows import (
    COLUMNS,
    MAPPERS,
    UNDECODABLE,
    SourceRecord,
    member_gpu_milli,
    rows_for,
)
from agentic.projections.clickhouse.sink import Batch
from agentic.schemas.codec import event_to_json
from agentic.schemas.samples import sample_event


def record(event_type: str, i: int = 0, offset: int = 7) -> SourceRecord:
    return SourceRecord("agentic.x", 2, offset, b"k", event_to_json(sample_event(event_type, i)))


@pytest.mark.parametrize("event_type", sorted(EVENT_CLASSES))
def test_every_event_type_gives_one_raw_row_with_its_position_and_rows_of_the_declared_width(
        event_type: str) -> None:
    rows = rows_for(record(event_type))
    assert len(rows["events"]) == 1
    raw = dict(zip(COLUMNS["events"], rows["events"][0], strict=True))
    assert (raw["topic"], raw["partition"], raw["offset"], raw["event_type"]) == ("agentic.x", 2, 7, event_type)
    assert "envelope" not in raw["payload"]
    for table, table_rows in rows.items():
        for row in table_rows:
            assert len(row) == len(COLUMNS[table]), f"{table} row width"
            assert row[:3] == ("agentic.x", 2, 7)


def test_mapping_is_deterministic() -> None:
    for event_type in MAPPERS:
        assert rows_for(record(event_type, 3)) == rows_for(record(event_type, 3))


def test_allocation_has_one_row_per_placement_numbered_by_idx_and_sums_gpu_milli() -> None:
    rec = record("TaskAllocated")
    assert rec.event is not None
    rows = rows_for(rec)
    placements = rec.event["placements"]
    cols = COLUMNS["allocations"]
    assert [r[cols.index("idx")] for r in rows["allocations"]] == list(range(len(placements)))
    expected = sum(g["milli"] for p in placements for g in p["gpus"])
    assert sum(r[cols.index("gpu_milli")] for r in rows["allocations"]) == expected
    task = dict(zip(COLUMNS["task_events"], rows["task_events"][0], strict=True))
    assert task["state"] == "ALLOCATED" and task["gpu_milli"] == expected


def test_submitted_task_requests_its_share_of_each_gpu() -> None:
    assert member_gpu_milli({"gpu_count": 2, "gpu_milli": 1000}) == 2000
    assert member_gpu_milli({"gpu_count": 1, "gpu_milli": 250}) == 250
    assert member_gpu_milli({"gpu_count": 0, "gpu_milli": 0}) == 0


def test_undecodable_record_still_gets_a_raw_row_with_its_reason_and_nothing_else() -> None:
    rows = rows_for(SourceRecord("agentic.tools", 0, 41, None, None, "invalid_avro: boom"))
    assert list(rows) == ["events"]
    raw = dict(zip(COLUMNS["events"], rows["events"][0], strict=True))
    assert raw["event_type"] == UNDECODABLE and raw["payload"] == {"error": "invalid_avro: boom"}


def test_batch_tracks_the_next_offset_per_partition() -> None:
    batch = Batch().extend([record("NodeHeartbeat", 0, 5), record("NodeHeartbeat", 1, 6)])
    assert batch.records == 2 and batch.next_offsets == {("agentic.x", 2): 7}
    assert len(batch.rows["events"]) == 2 and len(batch.rows["node_heartbeats"]) == 2


def test_the_decoder_checks_the_codec_s_magic_byte() -> None:
    from agentic.projections.clickhouse.decode import MAGIC
    from agentic.schemas.codec import MAGIC as CODEC_MAGIC

    assert MAGIC == CODEC_MAGIC


@pytest.mark.parametrize(("value", "text"), [(0.93, "0.93"), (1.0, "1"), (1e-05, "0.00001"), (None, "None"),
                                             (1.2345678901234568e17, "123456789012345680"), (-2.5, "-2.5")])
def test_number_text_writes_floats_as_clickhouse_to_string_does(value: float | None, text: str) -> None:
    from agentic.projections.clickhouse.rows import number_text

    assert number_text(value) == text
