"""The codec: round trips, Confluent framing, field-level validation errors, decode errors, JSON."""

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
from agentic.schemas import DecodeError, EventCodec, EventValidationError, StaticSchemaIds, catalogue
from agentic.schemas.codec import event_from_json, event_to_json, validate
from agentic.schemas.samples import sample_event, sample_events

EVENT_TYPES = catalogue.event_types()


@pytest.fixture(scope="module")
def codec() -> EventCodec:
    return EventCodec(StaticSchemaIds())


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_round_trip_every_event_type(codec: EventCodec, event_type: str) -> None:
    for i in range(5):
        event = sample_event(event_type, i)
        assert codec.decode(codec.encode(event)) == event


def test_confluent_framing_and_standard_avro_body(codec: EventCodec) -> None:
    event = sample_event("TaskSubmitted", 2)
    data = codec.encode(event)
    magic, schema_id = struct.unpack(">bI", data[:5])
    assert magic == 0
    assert schema_id == StaticSchemaIds().id_for("TaskSubmitted")
    # any Avro reader with the registered schema (logical types included) reads the body
    registered = fastavro.parse_schema(catalogue.resolved_schema("TaskSubmitted"))
    record: Any = fastavro.schemaless_reader(io.BytesIO(data[5:]), registered, None)
    assert record["task_id"] == event.task_id
    assert record["members"][0]["gpu_milli"] == event.members[0].gpu_milli
    assert str(record["envelope"]["event_id"]) == event.envelope.event_id
    assert record["envelope"]["occurred_at"].timestamp() * 1000 == event.envelope.occurred_at


def test_enum_values_and_tuples_come_back_typed(codec: EventCodec) -> None:
    event = codec.decode(codec.encode(sample_event("TaskSubmitted", 1)))
    assert isinstance(event, ev.TaskSubmitted)
    assert type(event.workload_type) is ev.WorkloadType
    assert type(event.members) is tuple and type(event.members[0]) is ev.GangMember
    assert type(event.envelope.occurred_at) is int


def _with(event: Any, **changes: Any) -> Any:
    return dataclasses.replace(event, **changes)


def _member(**changes: Any) -> ev.GangMember:
    base = ev.GangMember(name="w", replicas=1, cpu_milli=1000, memory_mib=1024, gpu_count=1, gpu_milli=1000)
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(("change", "field", "rule"), [
    ({"members": (_member(gpu_milli=1500),)}, "members[0].gpu_milli", "maximum"),
    ({"members": (_member(gpu_count=2, gpu_milli=500),)}, "members[0].gpu_milli", "shared_gpu_single"),
    ({"members": (_member(gpu_count=0, gpu_milli=500),)}, "members[0].gpu_milli", "gpu_milli_without_gpus"),
    ({"members": (_member(), _member())}, "members[1].name", "unique_member_name"),
    ({"members": ()}, "members", "minItems"),
    ({"members": [_member()]}, "members", "type"),
    ({"priority": "high"}, "priority", "type"),
    ({"priority": 2**40}, "priority", "int_range"),
    ({"preemptible": 1}, "preemptible", "type"),
    ({"workload_type": "GAMING"}, "workload_type", "enum"),
    ({"task_id": ""}, "task_id", "minLength"),
    ({"gpu_models": ("H100", 3)}, "gpu_models[1]", "type"),
])
def test_validation_names_field_and_rule(codec: EventCodec, change: dict[str, Any], field: str, rule: str) -> None:
    event = _with(sample_event("TaskSubmitted", 1), **change)
    with pytest.raises(EventValidationError) as info:
        codec.encode(event)
    assert (info.value.field, info.value.rule) == (field, rule)
    assert field in str(info.value) and rule in str(info.value)


def test_envelope_errors_carry_the_envelope_path(codec: EventCodec) -> None:
    event = sample_event("NodeRemoved", 1)
    bad_id = _with(event, envelope=dataclasses.replace(event.envelope, event_id="not-a-uuid"))
    with pytest.raises(EventValidationError, match=r"envelope\.event_id") as info:
        codec.encode(bad_id)
    assert info.value.rule == "format_uuid"
    wrong_type = _with(event, envelope=dataclasses.replace(event.envelope, event_type="NodeUpdated"))
    with pytest.raises(EventValidationError) as info2:
        codec.encode(wrong_type)
    assert (info2.value.field, info2.value.rule) == ("envelope.event_type", "event_type_matches_class")


@pytest.mark.parametrize(("event_type", "change", "field", "rule"), [
    ("NodeHeartbeat", {"cpu_load": 1.5}, "cpu_load", "maximum"),
    ("NodeHeartbeat", {"gpu_utilization": (0.1, -0.2)}, "gpu_utilization[1]", "minimum"),
    ("QueueConfigured", {"weight": 0.0}, "weight", "exclusiveMinimum"),
    ("NodeRegistered", {"labels": {"a": 1}}, "labels['a']", "type"),
    ("MemoryWritten", {"importance": 2.0}, "importance", "maximum"),
    ("MemoryWritten", {"content": ""}, "content", "minLength"),
    ("MemoryDeleted", {"memory_id": None}, "memory_id", "required_for_scope"),
    ("TaskCheckpointCreated", {"state": "{not json"}, "state", "format_json"),
    ("TripleAsserted", {"valid_to_ms": 1}, "valid_to_ms", "valid_interval"),
    ("WorkflowStarted", {"steps": (ev.WorkflowStep(step_id="a", name="x", depends_on=("zz",), max_attempts=1,
                                                   timeout_ms=1),)}, "steps[0].depends_on[0]", "known_dependency"),
])
def test_rules_of_other_events(codec: EventCodec, event_type: str, change: dict[str, Any], field: str,
                               rule: str) -> None:
    with pytest.raises(EventValidationError) as info:
        codec.encode(_with(sample_event(event_type, 0), **change))
    assert (info.value.field, info.value.rule) == (field, rule)


def test_quota_resource_is_one_of_the_known_units(codec: EventCodec) -> None:
    event = sample_event("QueueConfigured", 0)
    bad = _with(event, quotas=(ev.ResourceQuota(resource="gpus", guaranteed=1),))
    with pytest.raises(EventValidationError) as info:
        codec.encode(bad)
    assert (info.value.field, info.value.rule) == ("quotas[0].resource", "allowed")


def test_non_events_are_refused(codec: EventCodec) -> None:
    with pytest.raises(EventValidationError, match="not an event class"):
        codec.encode(ev.GpuShare(index=0, milli=10))


@pytest.mark.parametrize(("data", "reason"), [
    (b"\x00\x00", "truncated"),
    (b"\x01\x00\x00\x00\x01abc", "bad_magic"),
    (b"\x00\x00\x00\x27\x0f\x00", "unknown_schema_id"),
])
def test_decode_errors(codec: EventCodec, data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        codec.decode(data)
    assert info.value.reason == reason


def test_corrupt_and_trailing_bodies(codec: EventCodec) -> None:
    good = codec.encode(sample_event("TaskSubmitted", 1))
    with pytest.raises(DecodeError) as cut:
        codec.decode(good[:-7])
    assert cut.value.reason == "invalid_avro"
    with pytest.raises(DecodeError) as extra:
        codec.decode(good + b"\x00")
    assert extra.value.reason == "trailing_bytes"


def test_decoded_events_are_validated(codec: EventCodec) -> None:
    """Bytes written by another tool that break a catalogue rule are refused on decode."""
    event = sample_event("NodeHeartbeat", 1)
    record = ev._generated.ENC["NodeHeartbeat"](event)
    record["cpu_load"] = 7.0
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, StaticSchemaIds().id_for("NodeHeartbeat")))
    fastavro.schemaless_writer(buf, fastavro.parse_schema(catalogue.stripped(catalogue.resolved_schema(
        "NodeHeartbeat"))), record)
    with pytest.raises(DecodeError) as info:
        codec.decode(buf.getvalue())
    assert info.value.reason == "invalid_event" and "cpu_load" in str(info.value)
    lenient = EventCodec(StaticSchemaIds(), validate_on_decode=False)
    decoded = lenient.decode(buf.getvalue())
    assert isinstance(decoded, ev.NodeHeartbeat) and decoded.cpu_load == 7.0


def test_decode_many_keeps_order_and_errors(codec: EventCodec) -> None:
    batch = sample_events(40)
    datas = [codec.encode(e) for e in batch]
    datas.insert(3, b"\x07junk")
    out = codec.decode_many(datas)
    assert isinstance(out[3], DecodeError) and out[3].reason == "bad_magic"
    assert [o for i, o in enumerate(out) if i != 3] == batch


def test_old_writer_schema_is_resolved_against_the_current_reader() -> None:
    """A record written with an older schema (fewer fields) decodes with the defaults of the new ones."""
    old = catalogue.resolved_schema("TaskFinished")
    old["fields"] = [f for f in old["fields"] if f["name"] != "exit_code"]
    ids = StaticSchemaIds(extra={900: old})
    codec = EventCodec(ids)
    event = _with(sample_event("TaskFinished", 1), exit_code=None)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(catalogue.stripped(old)),
                               ev._generated.ENC["TaskFinished"](event))
    decoded = codec.decode(struct.pack(">bI", 0, 900) + body.getvalue())
    assert decoded == event


def test_foreign_record_names_are_refused() -> None:
    foreign = {"type": "record", "name": "Other", "namespace": "x", "fields": [{"name": "a", "type": "long"}]}
    codec = EventCodec(StaticSchemaIds(extra={901: foreign}))
    with pytest.raises(DecodeError) as info:
        codec.decode(struct.pack(">bI", 0, 901) + b"\x02")
    assert info.value.reason == "unknown_event_type"


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_json_round_trip(event_type: str) -> None:
    event = sample_event(event_type, 4)
    as_json = json.loads(json.dumps(event_to_json(event)))
    assert event_from_json(event_type, as_json) == event


def test_json_input_errors_name_the_field() -> None:
    base = event_to_json(sample_event("TaskSubmitted", 1))
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({**base, "colour": "red"}, "colour", "unknown_field"),
        ({k: v for k, v in base.items() if k != "queue"}, "queue", "required"),
        ({**base, "topology": "SAME_GALAXY"}, "topology", "enum"),
        ({**base, "members": [{**base["members"][0], "gpu_milli": 5000}]}, "members[0].gpu_milli", "maximum"),
        ({**base, "priority": "1"}, "priority", "type"),
        ({**base, "members": "worker"}, "members", "type"),
    ]
    for obj, field, rule in cases:
        with pytest.raises(EventValidationError) as info:
            event_from_json("TaskSubmitted", obj)
        assert (info.value.field, info.value.rule) == (field, rule), obj


def test_json_uses_given_envelope_and_defaults() -> None:
    env = ev.new_envelope("TaskCancelled", "acme", "cli", 1_700_000_000_000)
    event = event_from_json("TaskCancelled", {"task_id": "t1", "reason": "no longer needed"}, envelope=env)
    assert event == ev.TaskCancelled(envelope=env, task_id="t1", reason="no longer needed")
    finished = event_from_json("TaskFinished", {"envelope": event_to_json(event)["envelope"] | {
        "event_type": "TaskFinished"}, "task_id": "t1", "outcome": "FAILED"})
    assert isinstance(finished, ev.TaskFinished) and finished.exit_code is None
    with pytest.raises(EventValidationError, match="known_event_type"):
        event_from_json("Nope", {})


def test_validate_accepts_plain_strings_for_enums() -> None:
    event = _with(sample_event("TaskFinished", 0), outcome="KILLED")
    validate(event)


# ---- the generated writer produces exactly fastavro's bytes
def _fastavro_bytes(event: Any) -> bytes:
    et = type(event).EVENT_TYPE
    schema = fastavro.parse_schema(catalogue.stripped(catalogue.resolved_schema(et)))
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, StaticSchemaIds().id_for(et)))
    fastavro.schemaless_writer(buf, schema, ev._generated.ENC[et](event), disable_tuple_notation=True)
    return buf.getvalue()


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_generated_writer_is_byte_identical_to_fastavro(codec: EventCodec, event_type: str) -> None:
    for i in range(12):
        event = sample_event(event_type, i)
        assert codec.encode(event) == _fastavro_bytes(event)


@settings(max_examples=200, deadline=None)
@given(
    priority=st.integers(-(2**31), 2**31 - 1),
    duration=st.none() | st.integers(0, 2**63 - 1),
    task_id=st.text(min_size=1, max_size=300).filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s)),
    models=st.lists(st.text(max_size=20), max_size=30).map(tuple),
    occurred_at=st.integers(0, 2**62),
)
def test_writer_matches_fastavro_on_arbitrary_values(priority: int, duration: int | None, task_id: str,
                                                     models: tuple[str, ...], occurred_at: int) -> None:
    base = sample_event("TaskSubmitted", 1)
    event = _with(base, priority=priority, expected_duration_ms=duration, task_id=task_id, gpu_models=models,
                  envelope=dataclasses.replace(base.envelope, occurred_at=occurred_at))
    codec = EventCodec(StaticSchemaIds())
    data = codec.encode(event)
    assert data == _fastavro_bytes(event)
    assert codec.decode(data) == event


@settings(max_examples=100, deadline=None)
@given(load=st.floats(0, 1), used=st.integers(0, 2**40), util=st.lists(st.floats(0, 1), max_size=64).map(tuple),
       labels=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=8))
def test_writer_matches_fastavro_on_doubles_and_maps(load: float, used: int, util: tuple[float, ...],
                                                     labels: dict[str, str]) -> None:
    beat = _with(sample_event("NodeHeartbeat", 2), cpu_load=load, memory_used_mib=used, gpu_utilization=util)
    node = _with(sample_event("NodeRegistered", 2), labels=labels)
    codec = EventCodec(StaticSchemaIds())
    for event in (beat, node):
        assert codec.encode(event) == _fastavro_bytes(event)
        assert codec.decode(codec.encode(event)) == event


def test_lone_surrogates_are_a_validation_error(codec: EventCodec) -> None:
    with pytest.raises(EventValidationError) as info:
        codec.encode(_with(sample_event("TaskCancelled", 0), reason="bad \udc80"))
    assert info.value.rule == "utf8"


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(EVENT_TYPES) - 1), cut=st.integers(0, 400), flips=st.lists(
    st.tuples(st.integers(5, 400), st.integers(0, 255)), max_size=4))
def test_damaged_records_raise_only_decode_errors(index: int, cut: int, flips: list[tuple[int, int]]) -> None:
    codec = EventCodec(StaticSchemaIds())
    data = bytearray(codec.encode(sample_event(EVENT_TYPES[index], index)))
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    damaged = bytes(data[: max(5, len(data) - cut % 50)])
    try:
        event = codec.decode(damaged)
    except DecodeError as err:
        assert err.reason in {"invalid_avro", "trailing_bytes", "invalid_event"}
    else:
        validate(event)  # whatever decodes is a valid event


def test_generated_reader_and_fastavro_agree(codec: EventCodec) -> None:
    for event in sample_events(62, seed=7):
        et = type(event).EVENT_TYPE
        data = codec.encode(event)
        schema = fastavro.parse_schema(catalogue.stripped(catalogue.resolved_schema(et)))
        record = fastavro.schemaless_reader(io.BytesIO(data[5:]), schema, None)
        assert ev._generated.READ[et](data, 5) == (ev._generated.DEC[et](record), len(data))
