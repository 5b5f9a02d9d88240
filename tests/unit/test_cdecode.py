"""The compiled reader (agentic/events/_cdecode.c) against the Python readers: the same events (same
types all the way down) for valid records; for damaged ones the same event or a refusal, never a crash
and never an event the Python readers reject. Through the codec, the same outcome (event or error text)."""

from __future__ import annotations

import dataclasses
import math
import os
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentic.events import _generated as gen
from agentic.schemas import DecodeError, EventCodec, StaticSchemaIds, catalogue
from agentic.schemas import ccodegen
from agentic.schemas.codec import compiled_decoder
from agentic.schemas.rules import RULES
from agentic.schemas.samples import sample_event

EVENT_TYPES = catalogue.event_types()
PURE = os.environ.get("AGENTIC_PURE_PYTHON") == "1"
IDS = StaticSchemaIds()
FAST = EventCodec(IDS)
SLOW = EventCodec(IDS, compiled=False)


def test_compiled_module_is_built_and_used() -> None:
    """`./run test` must exercise the C reader: a missing module fails unless AGENTIC_PURE_PYTHON=1."""
    if PURE:
        assert compiled_decoder() is None and FAST.decoder == "python"
        return
    assert compiled_decoder() is not None, (
        "agentic.events._cdecode is not importable (see the codec.pure_python log line): reinstall the "
        "package so that setup.py compiles it, or set AGENTIC_PURE_PYTHON=1 to test the Python readers alone")
    assert FAST.decoder == "compiled" and SLOW.decoder == "python"


def test_committed_c_source_is_fresh() -> None:
    source = Path(__file__).resolve().parents[2] / "agentic" / "events" / "_cdecode.c"
    assert source.read_text(encoding="utf-8") == ccodegen.generate(), (
        f"{source} is stale: run python -m agentic.schemas.ccodegen (then reinstall)")


@pytest.fixture(scope="module")
def mod() -> Any:
    if PURE:
        pytest.skip("AGENTIC_PURE_PYTHON=1: the compiled reader is turned off")
    module = compiled_decoder()
    assert module is not None
    return module


def same_tree(a: Any, b: Any) -> bool:
    """Equal, and of the same types at every level (== alone takes 1 for True and a str for an enum)."""
    if type(a) is not type(b):
        return False
    if dataclasses.is_dataclass(a):
        return all(same_tree(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same_tree(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_tree(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def outcome(codec: EventCodec, data: bytes) -> Any:
    try:
        return codec.decode(data)
    except DecodeError as exc:
        return (exc.reason, str(exc))


def check_record(mod: Any, data: bytes, event_type: str) -> tuple[Any, Any]:
    """The C reader never returns what the Python readers reject, and the codec's outcome is the same
    with and without it. Returns the Python outcome and the C reader's (None: refused)."""
    slow, fast = outcome(SLOW, data), outcome(FAST, data)
    assert type(fast) is type(slow) and (fast == slow if isinstance(slow, tuple) else same_tree(fast, slow))
    direct = mod.decode(data, mod.EVENT_TYPES.index(event_type))
    if direct is not None:
        if isinstance(slow, tuple):  # only a cross-field rule (checked by the codec, not the reader) may differ
            assert slow[0] == "invalid_event" and event_type in RULES
            with pytest.raises(Exception):  # noqa: B017,PT011  (the rule's EventValidationError)
                RULES[event_type](direct)
        else:
            assert same_tree(direct, slow)
    return slow, direct


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_samples_decode_to_the_same_objects(mod: Any, event_type: str) -> None:
    for i in range(12):
        event = sample_event(event_type, i)
        data = FAST.encode(event)
        direct = mod.decode(data, mod.EVENT_TYPES.index(event_type))
        assert direct is not None, f"{event_type} sample {i} refused by the C reader"
        assert same_tree(direct, event) and same_tree(direct, SLOW.decode(data))


VARIANTS = (0x00, 0x01, 0x02, 0x03, 0x7F, 0x80, 0xC3, 0xFE, 0xFF)
HUGE = (b"\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x01", b"\x81\x80\x80\x80\x10", b"\xff" * 11)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_damaged_samples_give_the_same_event_or_a_refusal(mod: Any, event_type: str) -> None:
    """Truncation at every byte, every byte replaced by a few values (bad UTF-8, bad union and enum
    indexes, negative and odd lengths), huge and negative varints inserted anywhere."""
    taken = refused = 0
    for sample in (1, 2):
        data = FAST.encode(sample_event(event_type, sample))
        damaged = [data[:cut] for cut in range(len(data))] + [data + b"\x00"]
        for pos in range(5, len(data)):
            damaged += [data[:pos] + bytes([value]) + data[pos + 1:] for value in VARIANTS]
            damaged += [data[:pos] + varint + data[pos + 1:] for varint in HUGE]
        for record in damaged:
            direct = check_record(mod, record, event_type)[1]
            taken, refused = taken + (direct is not None), refused + (direct is None)
    assert taken and refused  # some damage still reads (a changed letter), most does not


# ---- generated events: values of every schema type, mostly within the constraints, sometimes not


def _strategy(t: Any, c: dict[str, Any]) -> st.SearchStrategy[Any]:  # noqa: C901  (one case per Avro type)
    if isinstance(t, list):
        inner = next(b for b in t if b != "null")
        return st.one_of(st.none(), _strategy(inner, c))
    if isinstance(t, dict):
        kind = t["type"]
        sub = {k: v for k, v in c.items() if k != "minItems"}
        if kind == "record":
            return st.fixed_dictionaries({f["name"]: _strategy(f["type"], _constraints(f)) for f in t["fields"]})
        if kind == "enum":
            return st.sampled_from(t["symbols"])
        if kind == "array":
            return st.lists(_strategy(t["items"], sub), min_size=max(0, c.get("minItems", 0) - 1), max_size=4)
        if kind == "map":
            return st.dictionaries(st.text(max_size=6), _strategy(t["values"], sub), max_size=3)
        return _strategy(kind, c)
    if t == "string":
        if c.get("format") == "uuid":
            return st.one_of(st.uuids().map(str), st.just("not-a-uuid"), st.uuids().map(lambda u: str(u).upper()))
        if c.get("format") == "json":
            return st.sampled_from(["{}", '{"a": [1, 2.5, null]}', "[]", '"x"', "{", "nul", " 1 ", "{'a': 1}"])
        if "allowed" in c:
            return st.one_of(st.sampled_from(c["allowed"]), st.just("cpu"))
        return st.one_of(st.text(min_size=c.get("minLength", 0), max_size=16), st.just(""))
    if t in ("int", "long"):
        lo, hi = ccodegen.INT_BOUNDS[t]
        near = st.integers(max(lo, c.get("minimum", lo) - 2), min(hi, c.get("minimum", 0) + 2000))
        return st.one_of(near, st.integers(lo, min(hi, c.get("maximum", hi) + 1)), st.integers(lo, hi))
    if t in ("double", "float"):
        width = 64 if t == "double" else 32
        low = float(c.get("minimum", c.get("exclusiveMinimum", -1e6)))
        high = float(c.get("maximum", 1e6))
        return st.one_of(st.floats(low, high, width=width), st.floats(allow_nan=False, width=width),
                         st.sampled_from([0.0, -0.0, 1.0, 1.5, -1.0, math.inf]))
    if t == "boolean":
        return st.booleans()
    raise AssertionError(f"no strategy for {t!r}")


def _constraints(f: dict[str, Any]) -> dict[str, Any]:
    return {k: f[k] for k in catalogue.CONSTRAINT_KEYS if k in f}


@st.composite
def records(draw: st.DrawFn) -> tuple[str, bytes]:
    """(event type, bytes written by the generated writer without validation: Avro-valid, maybe rule-breaking)."""
    event_type = draw(st.sampled_from(EVENT_TYPES))
    shaped = draw(_strategy(catalogue.resolved_schema(event_type), {}))
    if draw(st.integers(0, 9)):
        shaped["envelope"]["event_type"] = event_type
    event = gen.DEC[event_type](shaped)
    return event_type, gen.BYTES[event_type](event, struct.pack(">bI", 0, IDS.id_for(event_type)))


@settings(max_examples=2000, deadline=None)
@given(record=records())
def test_generated_events_decode_alike(mod: Any, record: tuple[str, bytes]) -> None:
    event_type, data = record
    slow, direct = check_record(mod, data, event_type)
    if not isinstance(slow, tuple):  # a valid event: the C reader must take it, not refuse it
        assert direct is not None


@settings(max_examples=1000, deadline=None)
@given(record=records(), cut=st.integers(0, 40),
       flips=st.lists(st.tuples(st.integers(5, 400), st.integers(0, 255)), max_size=3))
def test_generated_events_damaged_decode_alike(mod: Any, record: tuple[str, bytes], cut: int,
                                               flips: list[tuple[int, int]]) -> None:
    event_type, data = record
    damaged = bytearray(data)
    for pos, value in flips:
        if pos < len(damaged):
            damaged[pos] = value
    check_record(mod, bytes(damaged[: max(0, len(damaged) - cut)]), event_type)


def test_decode_refuses_a_record_of_another_type(mod: Any) -> None:
    data = FAST.encode(sample_event("NodeRemoved", 1))
    assert mod.decode(data, mod.EVENT_TYPES.index("NodeRemoved")) is not None
    assert mod.decode(data, mod.EVENT_TYPES.index("NodeUpdated")) is None
