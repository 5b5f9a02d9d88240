"""The C row encoder (`_crows`, programs from `rowgen`) writes exactly the Python path's raw row lines.

The Python path (cavro decode, `rows.event_row`, orjson) is the reference: for stored samples of every
event type, for hypothesis-generated records of every schema (any text, any float, any map) and for
corrupted bodies, the C encoder either refuses a record (which then takes the Python path) or writes the
very same bytes. On this machine the compiled module must be there: set AGENTIC_PURE_PYTHON=1 to test a
build without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import struct
from typing import Any

import cavro
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentic.projections.clickhouse import parallel, rowgen
from agentic.projections.clickhouse.decode import DictDecoder
from agentic.schemas import catalogue
from agentic.schemas.codec import MAGIC, EventCodec, StaticSchemaIds
from agentic.schemas.errors import DecodeError
from agentic.schemas.samples import sample_events

from .test_projection_decode import HISTORY

if os.environ.get("AGENTIC_PURE_PYTHON") == "1":
    pytest.skip("AGENTIC_PURE_PYTHON=1: the C row encoder is off", allow_module_level=True)

IDS = StaticSchemaIds(HISTORY)
TYPES = catalogue.event_types()
_OPTIONS = cavro.DEFAULT_OPTIONS.replace(record_decodes_to_dict=True)


def test_the_compiled_module_is_built_and_on() -> None:
    assert rowgen.AVAILABLE, "projections/clickhouse/_crows is not built: pip install -e . (or AGENTIC_PURE_PYTHON=1)"
    assert rowgen._crows is not None and rowgen._crows.FORMAT == rowgen.VERSION


def python_line(decoder: DictDecoder, raw: tuple[str, int, int, bytes | None, bytes | None]) -> bytes:
    line: bytes = parallel._python_line(decoder, *raw)
    return line


def warmed() -> DictDecoder:
    """A decoder that has resolved the current schema id of every event type (so each has its program)."""
    decoder = DictDecoder(IDS)
    codec = EventCodec(IDS)
    for event in sample_events(len(TYPES) * 3, seed=1):
        decoder.decode(codec.encode(event))
    return decoder


DECODER = warmed()


def framed(event_type: str, body: bytes) -> bytes:
    sid: int = IDS.id_for(event_type)
    return bytes([MAGIC]) + sid.to_bytes(4, "big") + body


def assert_same(raws: list[tuple[str, int, int, bytes | None, bytes | None]]) -> list[bytes | None]:
    blob, refused, seen = rowgen.encode_blob(DECODER.programs, raws)
    assert refused == sorted(set(refused)) and all(0 <= i < len(raws) for i in refused)
    encoded, left_out = iter(blob.split(b"\n") if blob else []), set(refused)  # a JSON line holds no raw newline
    lines: list[bytes | None] = [None if i in left_out else next(encoded) for i in range(len(raws))]
    assert next(encoded, None) is None  # one line per record not refused, none more
    for raw, line in zip(raws, lines, strict=True):
        if line is not None:
            assert line == python_line(DECODER, raw), raw
    assert seen == {(t, p): o + 1 for t, p, o, _, _ in raws}
    return lines


def test_every_current_schema_has_a_program_and_no_historical_one_has() -> None:
    current = {IDS.id_for(t) for t in TYPES}
    assert set(DECODER.programs) == current
    decoder = DictDecoder(IDS)
    for sid in HISTORY:
        with contextlib.suppress(DecodeError):  # an empty body: only the reader (and program) resolution matters
            decoder.decode(bytes([MAGIC]) + sid.to_bytes(4, "big"))
    same = {sid for sid, w in HISTORY.items() if catalogue.fingerprint_json(w) == catalogue.fingerprint_json(
        catalogue.resolved_schema(catalogue.event_type_of(w)))}
    assert set(decoder.programs) == same


def test_samples_of_every_event_type_give_identical_lines() -> None:
    codec = EventCodec(IDS)
    keys: list[bytes | None] = [None, b"task-1", "nœud-é/ü".encode(), b"bad\xff\xfeutf8", b'q"\\\n\x01']
    raws = [(f"topic.{i % 2}", i % 3, 1000 + i, keys[i % len(keys)], codec.encode(event))
            for i, event in enumerate(sample_events(2000, seed=11))]
    lines = assert_same(raws)
    refused = [raws[i] for i, line in enumerate(lines) if line is None]
    assert {r[3] for r in refused} <= {b"bad\xff\xfeutf8"}, "only the invalid UTF-8 key is left to Python"
    assert len(refused) == len(raws) // len(keys)


def test_encode_chunk_fast_equals_the_python_path(monkeypatch: pytest.MonkeyPatch) -> None:
    codec = EventCodec(IDS)
    raws: list[Any] = [("t", 0, i, b"k", codec.encode(e)) for i, e in enumerate(sample_events(300, seed=4))]
    raws += [("t", 1, 0, None, None), ("t", 1, 1, b"x", b"\x00\x00\x00\x27\x0fzz"), ("t", 1, 2, None, b"\x01")]
    fast = parallel.encode_chunk(warmed(), raws)
    monkeypatch.setattr(rowgen, "AVAILABLE", False)
    slow = parallel.encode_chunk(warmed(), raws)
    assert (fast.blob("events"), fast.next_offsets, fast.records, fast.seen) == \
        (slow.blob("events"), slow.next_offsets, slow.records, slow.seen)


# ------------------------------------------------------------------------------- generated records


def _value(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    if isinstance(schema, list):
        return st.one_of([_value(s, named) for s in schema])
    if isinstance(schema, str):
        prim = {"null": st.none(), "boolean": st.booleans(), "string": st.text(max_size=12),
                "int": st.integers(-2**31, 2**31 - 1), "long": st.integers(-2**63, 2**63 - 1),
                "double": st.floats(allow_nan=True, allow_infinity=True),
                "float": st.floats(width=32, allow_nan=False, allow_infinity=False)}
        return prim[schema] if schema in prim else _value(named[schema.rsplit(".", 1)[-1]], named)
    kind = schema["type"]
    if kind == "array":
        return st.lists(_value(schema["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=6), _value(schema["values"], named), max_size=4)
    if kind == "enum":
        named[schema["name"]] = schema
        return st.sampled_from(schema["symbols"])
    if kind == "record":
        named[schema["name"]] = schema
        return st.fixed_dictionaries({f["name"]: _value(f["type"], named) for f in schema["fields"]})
    return _value(kind, named)


@st.composite
def records(draw: st.DrawFn) -> tuple[str, bytes]:
    event_type = draw(st.sampled_from(TYPES))
    schema = catalogue.stripped(catalogue.resolved_schema(event_type))
    value = draw(_value(schema, {}))
    body = cavro.Schema(json.dumps(schema), options=_OPTIONS).binary_encode(value)
    return event_type, framed(event_type, body)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rec=records(), key=st.one_of(st.none(), st.binary(max_size=8)), topic=st.text(min_size=1, max_size=8))
def test_generated_records_of_every_schema_give_identical_lines(rec: tuple[str, bytes], key: bytes | None,
                                                               topic: str) -> None:
    line = assert_same([(topic, 2, 7, key, rec[1])])[0]
    try:
        (key or b"").decode("utf-8")
    except UnicodeDecodeError:
        assert line is None  # the Python path writes the key with replacement characters
    else:
        assert line is not None, "a valid record with a valid key is encoded in C"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rec=records(), edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255), st.integers(0, 2)),
                                     min_size=1, max_size=4))
def test_corrupted_bodies_never_crash_and_are_refused_or_identical(rec: tuple[str, bytes],
                                                                   edits: list[tuple[int, int, int]]) -> None:
    data = bytearray(rec[1])
    for at, byte, op in edits:
        i = 5 + at % max(1, len(data) - 4)
        if op == 0 and i < len(data):
            data[i] = byte
        elif op == 1:
            del data[i:]
        else:
            data.insert(i, byte)
    assert_same([("t", 0, 1, None, bytes(data))])


@pytest.mark.parametrize("value", [1e-5, -2.5e-5, 9.99e-5, 1e-7, 3.14e-300, 5e-324, 1e16, 1.5e300, 0.0, -0.0,
                                   float("nan"), float("inf"), 123456789012345.6, 0.1, 1.0])
def test_float_text_is_orjsons(value: float) -> None:
    schema = catalogue.stripped(catalogue.resolved_schema("TaskAllocated"))
    body = bytearray(cavro.Schema(json.dumps(schema), options=_OPTIONS).binary_encode(_allocated(value)))
    assert struct.pack("<d", value) in body  # the double itself, not a conversion of it, is encoded
    line = assert_same([("t", 0, 0, None, framed("TaskAllocated", bytes(body)))])[0]
    assert line is not None, "every double is written in C (orjson's text derived from repr)"


def _allocated(score: float) -> dict[str, Any]:
    env = {"event_id": "e", "event_type": "TaskAllocated", "occurred_at": 1, "tenant": "t", "source": "s",
           "correlation_id": "c", "causation_id": None}
    return {"envelope": env, "task_id": "x", "queue": "q", "placements": [], "score": score,
            "score_breakdown": {"b": score, "a": -score}, "policy": "p", "policy_version": "1", "wait_ms": 0}


@pytest.mark.parametrize("schema", [
    {"type": "record", "name": "X", "fields": [{"name": "envelope", "type": "string"}]},
    {"type": "enum", "name": "E", "symbols": ["A"]},
])
def test_schemas_it_does_not_compile_are_refused(schema: dict[str, Any]) -> None:
    with pytest.raises(rowgen.Unsupported):
        rowgen.compile_event(schema)
    assert rowgen.program_or_none(schema) is None


def test_a_bytes_field_is_not_compiled() -> None:
    schema = catalogue.stripped(catalogue.resolved_schema("NodeHeartbeat"))
    schema["fields"].append({"name": "blob", "type": "bytes"})
    with pytest.raises(rowgen.Unsupported, match="bytes"):
        rowgen.compile_event(schema)


@settings(max_examples=3000, deadline=None)
@given(x=st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.floats(1e-6, 1e17),
                   st.floats(-1e4, 1e4).map(lambda v: round(v, 3)), st.floats(width=32, allow_nan=False)))
def test_double_text_equals_orjson_fast_path_included(x: float) -> None:
    crows = rowgen._crows
    assert crows is not None
    assert crows.float_text(x) == orjson.dumps(x)
    fast = crows.float_text(x, True)  # the exact 128-bit shortest-digits path (None: left to dtoa)
    assert fast is None or fast == orjson.dumps(x)


def test_the_fast_double_path_covers_nearly_every_double_in_its_range() -> None:
    crows = rowgen._crows
    assert crows is not None
    rng = random.Random(3)
    xs = [rng.random() * 10 ** rng.randint(-4, 15) for _ in range(20_000)]
    fast = [crows.float_text(x, True) for x in xs]
    assert all(f is None or f == orjson.dumps(x) for f, x in zip(fast, xs, strict=True))
    assert sum(f is None for f in fast) < len(xs) // 100  # dtoa only for ties and boundary cases


def test_a_fresh_decoder_encodes_its_first_chunk_in_c(monkeypatch: pytest.MonkeyPatch) -> None:
    codec = EventCodec(IDS)
    raws: list[Any] = [("t", 0, i, None, codec.encode(e)) for i, e in enumerate(sample_events(200, seed=8))]
    python_lines: list[int] = []
    real = parallel._python_line

    def counted(decoder: DictDecoder, *raw: Any) -> bytes:
        python_lines.append(raw[2])
        line: bytes = real(decoder, *raw)
        return line

    monkeypatch.setattr(parallel, "_python_line", counted)
    decoder = DictDecoder(IDS)
    fast = parallel.encode_chunk(decoder, raws)
    assert python_lines == [] and set(decoder.programs) == {IDS.id_for(type(e).__name__) for e in
                                                            sample_events(200, seed=8)}
    monkeypatch.setattr(rowgen, "AVAILABLE", False)
    assert fast.blob("events") == parallel.encode_chunk(DictDecoder(IDS), raws).blob("events")
