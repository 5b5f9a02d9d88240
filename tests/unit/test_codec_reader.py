"""The generated readers: fast paths (fill objects, table varints, one end check) give exactly what
fastavro reads, build genuine frozen instances, and refuse what does not fit the Avro types."""

from __future__ import annotations

import dataclasses
import io
import json
import struct
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentic import events as ev
from agentic.connectors.kafka import Consumed, _FillConsumed
from agentic.events import _generated as gen
from agentic.schemas import DecodeError, EventCodec, StaticSchemaIds, catalogue
from agentic.schemas.codec import _canonical_decoder
from agentic.schemas.samples import sample_event, sample_events

INT = st.integers(-(2**31), 2**31 - 1)
LONG = st.integers(-(2**63), 2**63 - 1)


def _zz(n: int) -> bytes:
    """Avro long encoding (zig-zag varint), written independently of the generated module."""
    n = (n << 1) ^ (n >> 63) if -(2**63) <= n < 2**63 else n << 1
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _fastavro_event(event_type: str, data: bytes) -> Any:
    schema = fastavro.parse_schema(catalogue.stripped(catalogue.resolved_schema(event_type)))
    return gen.DEC[event_type](fastavro.schemaless_reader(io.BytesIO(data[5:]), schema, None))


@pytest.mark.parametrize("name", sorted(gen.RECORD_CLASSES))
def test_fill_classes_have_the_layout_of_their_dataclass(name: str) -> None:
    cls = gen.RECORD_CLASSES[name]
    fill = getattr(gen, f"_Fill_{cls.__name__}")
    assert fill.__slots__ == cls.__slots__ == tuple(f.name for f in dataclasses.fields(cls))
    assert cls.__bases__ == fill.__bases__ == (object,)


def test_consumed_fill_has_the_layout_of_consumed() -> None:
    assert _FillConsumed.__slots__ == Consumed.__slots__ == tuple(f.name for f in dataclasses.fields(Consumed))


@pytest.mark.parametrize("event_type", catalogue.event_types())
def test_decoded_events_are_genuine_frozen_instances(event_type: str) -> None:
    codec = EventCodec(StaticSchemaIds())
    event = sample_event(event_type, 3)
    decoded = codec.decode(codec.encode(event))
    assert type(decoded) is type(event) and type(decoded.envelope) is ev.Envelope
    assert decoded == event and hash(decoded.envelope) == hash(event.envelope)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.envelope = event.envelope
    assert dataclasses.replace(decoded) == event and dataclasses.asdict(decoded) == dataclasses.asdict(event)


def test_every_sample_reads_as_fastavro_reads_it() -> None:
    codec = EventCodec(StaticSchemaIds())
    for event in sample_events(310, seed=11):
        et = type(event).EVENT_TYPE
        data = codec.encode(event)
        assert gen.READ[et](data, 5) == (_fastavro_event(et, data), len(data))


@settings(max_examples=300, deadline=None)
@given(priority=INT, duration=st.none() | LONG, occurred_at=LONG, cpu=INT, memory=LONG,
       names=st.lists(st.text(max_size=200), max_size=3))
def test_reader_matches_fastavro_on_any_int_and_long(priority: int, duration: int | None, occurred_at: int,
                                                     cpu: int, memory: int, names: list[str]) -> None:
    """Values of any size and sign (the writer runs without validation): 1- to 10-byte varints."""
    base = sample_event("TaskSubmitted", 1)
    members = tuple(dataclasses.replace(base.members[0], name=n or "w", cpu_milli=cpu, memory_mib=memory)
                    for n in names) or base.members
    event = dataclasses.replace(base, priority=priority, expected_duration_ms=duration, members=members,
                                envelope=dataclasses.replace(base.envelope, occurred_at=occurred_at))
    data = gen.BYTES["TaskSubmitted"](event, b"\x00\x00\x00\x00\x01")
    assert gen.READ["TaskSubmitted"](data, 5) == (event, len(data)) == (_fastavro_event("TaskSubmitted", data),
                                                                         len(data))


def _task_cancelled(reason_bytes: bytes) -> bytes:
    """A framed TaskCancelled whose last field (reason, a string) is the given raw Avro bytes."""
    codec = EventCodec(StaticSchemaIds())
    event = sample_event("TaskCancelled", 1)
    data = codec.encode(dataclasses.replace(event, reason="r"))
    assert data.endswith(b"\x02r")
    return bytes(data[:-2] + reason_bytes)


@pytest.mark.parametrize(("tail", "reason", "text"), [
    (_zz(40) + b"short", "invalid_avro", "bytes more than"),       # a length past the end of the data
    (_zz(-3) + b"abc", "invalid_avro", "negative string length"),  # a negative length
    (b"\x02r\x00", "trailing_bytes", "1 bytes after"),
    (b"\x02\xff", "invalid_avro", "UnicodeDecodeError"),
])
def test_string_lengths_are_checked_once_at_the_end(tail: bytes, reason: str, text: str) -> None:
    codec = EventCodec(StaticSchemaIds())
    with pytest.raises(DecodeError) as info:
        codec.decode(_task_cancelled(tail))
    assert info.value.reason == reason and text in str(info.value)


def _heartbeat_with_memory(varint: bytes) -> bytes:
    """A framed NodeHeartbeat whose memory_used_mib (an Avro long) is the given raw varint."""
    event = sample_event("NodeHeartbeat", 1)
    head = gen.BYTES["NodeHeartbeat"](dataclasses.replace(event, memory_used_mib=0, gpu_utilization=()),
                                      struct.pack(">bI", 0, StaticSchemaIds().id_for("NodeHeartbeat")))
    assert head.endswith(b"\x00\x00")  # memory_used_mib = 0, then the empty array
    return bytes(head[:-2] + varint + b"\x00")


@pytest.mark.parametrize("varint", [
    b"\xff" * 10 + b"\x01",            # 11 bytes
    b"\xff" * 9 + b"\x7f",             # 10 bytes, more than 64 bits
])
def test_longs_beyond_64_bits_are_invalid_avro(varint: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        EventCodec(StaticSchemaIds()).decode(_heartbeat_with_memory(varint))
    assert info.value.reason == "invalid_avro" and "64 bits" in str(info.value)


def test_longest_long_is_read() -> None:
    event = EventCodec(StaticSchemaIds(), validate_on_decode=False).decode(_heartbeat_with_memory(_zz(-(2**63))))
    assert isinstance(event, ev.NodeHeartbeat) and event.memory_used_mib == -(2**63)


def test_ints_beyond_32_bits_are_invalid_avro() -> None:
    """TaskSubmitted.priority is an Avro int: a varint holding 2**31 does not fit it."""
    codec = EventCodec(StaticSchemaIds())
    event = sample_event("TaskSubmitted", 1)
    good = codec.encode(dataclasses.replace(event, priority=2**31 - 1))
    assert codec.decode(good).priority == 2**31 - 1
    bad = good.replace(_zz(2**31 - 1), _zz(2**31), 1)
    with pytest.raises(DecodeError) as info:
        codec.decode(bad)
    assert info.value.reason == "invalid_avro" and "32 bits" in str(info.value)


def _outcome(decode: Any, data: bytes) -> Any:
    try:
        return decode(data)
    except DecodeError as exc:
        return (exc.reason, str(exc))


def _canonical(codec: EventCodec, data: bytes) -> Any:
    """The record decoded the plain way: reader, end check, then `VCHK`, event type and rule."""
    sid = int.from_bytes(data[1:5], "big")
    return _canonical_decoder(codec._decode_plan(sid), sid, True)(data)


# values that break field constraints, written without validation (as another tool could)
BREAKS: list[tuple[str, dict[str, Any]]] = [
    ("NodeHeartbeat", {"cpu_load": 1.5}),
    ("NodeHeartbeat", {"gpu_utilization": (0.5, -0.1)}),
    ("NodeHeartbeat", {"memory_used_mib": -1}),
    ("QueueConfigured", {"weight": 0.0}),
    ("MemoryWritten", {"content": ""}),
    ("TaskCheckpointCreated", {"state": "{not json"}),
    ("TaskSubmitted", {"members": ()}),
    ("TaskSubmitted", {"task_id": ""}),
    ("NodeRemoved", {"envelope": {"event_id": "not-a-uuid"}}),
    ("NodeRemoved", {"envelope": {"tenant": ""}}),
    ("NodeRemoved", {"envelope": {"event_type": "NodeUpdated"}}),
    ("TripleAsserted", {"valid_to_ms": 1}),  # a cross-field rule
]


@pytest.mark.parametrize(("event_type", "change"), BREAKS)
def test_checked_reader_refuses_what_vchk_refuses_with_the_same_words(event_type: str,
                                                                     change: dict[str, Any]) -> None:
    codec = EventCodec(StaticSchemaIds())
    event = sample_event(event_type, 2)
    if "envelope" in change:
        change = {"envelope": dataclasses.replace(event.envelope, **change["envelope"])}
    header = struct.pack(">bI", 0, StaticSchemaIds().id_for(event_type))
    data = gen.BYTES[event_type](dataclasses.replace(event, **change), header)
    fast = _outcome(codec.decode, data)
    assert fast == _outcome(lambda d: _canonical(codec, d), data)
    assert fast[0] == "invalid_event"


@settings(max_examples=400, deadline=None)
@given(index=st.integers(0, len(catalogue.event_types()) - 1), sample=st.integers(0, 20), cut=st.integers(0, 60),
       flips=st.lists(st.tuples(st.integers(5, 500), st.integers(0, 255)), max_size=3))
def test_checked_and_canonical_decoders_agree_on_damaged_records(index: int, sample: int, cut: int,
                                                                flips: list[tuple[int, int]]) -> None:
    codec = EventCodec(StaticSchemaIds())
    data = bytearray(codec.encode(sample_event(catalogue.event_types()[index], sample)))
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    damaged = bytes(data[: max(5, len(data) - cut % 40)])
    assert _outcome(codec.decode, damaged) == _outcome(lambda d: _canonical(codec, d), damaged)


def _loads_ok(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


JSON_EDGES = ['{"a": 1}', " [1, 2] ", "{not json", "1 2", '"x"', "NaN", "-Infinity", "", " ", "\ufeff{}",
              '{"a": 1}x', "nul", "true", '{"a":\n 1}\n', "[1,]", "01", "\t\r\n0\t", '"\\u00e9"', '"a\tb"',
              "\x0b1", "1\x0c", "[" * 50 + "]" * 50, '{"a": {"b": [null, 1e400, -0.0]}}']


@pytest.mark.parametrize("text", JSON_EDGES)
def test_is_json_accepts_exactly_what_json_loads_accepts(text: str) -> None:
    assert gen._is_json(text) == _loads_ok(text)


@settings(max_examples=300, deadline=None)
@given(value=st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                                      max_size=4), max_leaves=12),
       pad=st.text(alphabet=" \t\n\r\x0b", max_size=3), cut=st.integers(0, 6))
def test_is_json_agrees_with_json_loads_on_documents_and_their_damage(value: Any, pad: str, cut: int) -> None:
    text = pad + json.dumps(value) + pad
    for candidate in (text, text[: max(0, len(text) - cut)], text + "]", "," + text):
        assert gen._is_json(candidate) == _loads_ok(candidate), candidate
