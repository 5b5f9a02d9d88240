"""The projection's Avro decoder (cavro) gives the same dicts as fastavro, for current and historical writers."""

from __future__ import annotations

import io
import json
from importlib import resources
from typing import Any

import fastavro
import pytest

from agentic.projections.clickhouse.decode import DictDecoder
from agentic.schemas import catalogue
from agentic.schemas.codec import MAGIC, EventCodec, StaticSchemaIds, event_to_json
from agentic.schemas.errors import DecodeError
from agentic.schemas.samples import sample_event, sample_events


def _history() -> dict[int, dict[str, Any]]:
    """Every historical schema in schemas/history, under ids 1001, 1002, ..."""
    root = resources.files("agentic.schemas").joinpath("history")
    found = sorted((f for d in root.iterdir() if d.is_dir() for f in d.iterdir() if f.name.endswith(".avsc")),
                   key=str)
    return {1001 + i: json.loads(f.read_text()) for i, f in enumerate(found)}


HISTORY = _history()
IDS = StaticSchemaIds(HISTORY)


def fastavro_decode(data: bytes, writer: dict[str, Any], event_type: str) -> Any:
    parse = fastavro.parse_schema
    reader = parse(catalogue.stripped(catalogue.resolved_schema(event_type)))
    return fastavro.schemaless_reader(io.BytesIO(data[5:]), parse(catalogue.stripped(writer)), reader)


def test_current_writers_decode_to_the_event_json_of_every_sample() -> None:
    codec, decoder = EventCodec(IDS), DictDecoder(IDS)
    for event in sample_events(300, seed=5):
        assert decoder.decode(codec.encode(event)) == event_to_json(event)


@pytest.mark.parametrize("sid", sorted(HISTORY))
def test_historical_writers_resolve_to_the_current_shape_as_fastavro_does(sid: int) -> None:
    writer = HISTORY[sid]
    event_type = catalogue.event_type_of(writer)
    assert event_type in catalogue.event_types()
    decoder = DictDecoder(IDS)
    for i in range(5):
        body = io.BytesIO()  # a record as the old producer wrote it: the sample's fields the old schema has
        fastavro.schemaless_writer(body, fastavro.parse_schema(catalogue.stripped(writer)),
                                   event_to_json(sample_event(event_type, i)))
        data = bytes([MAGIC]) + sid.to_bytes(4, "big") + body.getvalue()
        assert decoder.decode(data) == fastavro_decode(data, writer, event_type)


@pytest.mark.parametrize(("data", "reason"), [
    (b"\x00\x00\x00\x00\x01garbage", "invalid_avro"), (b"\x00\x00\x00\x00\x01", "invalid_avro"),
    (b"\x01abcd", "bad_framing"), (b"\x00\x00\x00\x27\x0f", "unknown_schema_id")])
def test_bad_records_raise_a_decode_error_naming_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        DictDecoder(IDS).decode(data)
