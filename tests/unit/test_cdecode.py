"""The compiled reader (agentic/events/_cdecode.c) against the Python readers: the same events (same
types all the way down) for valid records; for damaged ones the same event or a refusal, never a crash
and never an event the Python readers reject. Through the codec, the same outcome (event or error text)."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import struct
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentic.events import _generated as gen
from agentic.schemas import DecodeError, EventCodec, EventValidationError, StaticSchemaIds, catalogue, ccodegen
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
        if isinstance(slow, tuple):  # only a cross-field rule left to Python (no C mirror) may differ
            assert slow[0] == "invalid_event" and event_type in RULES and event_type not in mod.C_RULES
            with pytest.raises(Exception):  # noqa: B017  (the rule's EventValidationError)
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


def _strategy(t: Any, c: dict[str, Any]) -> st.SearchStrategy[Any]:
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
        width: Literal[32, 64] = 64 if t == "double" else 32
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
def shaped_events(draw: st.DrawFn) -> tuple[str, Any]:
    """(event type, an event built without validation: mostly valid, sometimes breaking a constraint)."""
    event_type = draw(st.sampled_from(EVENT_TYPES))
    shaped = draw(_strategy(catalogue.resolved_schema(event_type), {}))
    if draw(st.integers(0, 9)):
        shaped["envelope"]["event_type"] = event_type
    return event_type, gen.DEC[event_type](shaped)


@st.composite
def records(draw: st.DrawFn) -> tuple[str, bytes]:
    """(event type, bytes written by the generated writer without validation: Avro-valid, maybe rule-breaking)."""
    event_type, event = draw(shaped_events())
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


def test_subclasses_and_python_made_events_are_freed_cleanly(mod: Any) -> None:
    """The compiled module installs a lean deallocator on the generated classes (see FAST_DEALLOC in
    _cdecode.c): objects made by the constructor, by the readers and by a subclass all go through it."""
    import gc
    import weakref

    event = sample_event("TaskSubmitted", 3)

    @dataclasses.dataclass(frozen=True)
    class Tagged(type(event)):  # type: ignore[misc]  # a subclass with a __dict__ and weak references
        tag: str = "x"

    for _ in range(1000):
        copy = dataclasses.replace(event)
        tagged = Tagged(**{f.name: getattr(event, f.name) for f in dataclasses.fields(event)}, tag="t")
        ref = weakref.ref(tagged)
        assert copy == event and tagged.tag == "t" and tagged.members == event.members
        del copy, tagged
        assert ref() is None
        decoded = mod.decode(FAST.encode(event), mod.EVENT_TYPES.index("TaskSubmitted"))
        assert same_tree(decoded, event)
        del decoded
    gc.collect()
    assert sample_event("TaskSubmitted", 3) == event


class FakeMessage:
    """What confluent-kafka's Message offers the consumer loop (the loop's logic, not Kafka, is tested
    here; tests/integration covers the real consumer and its dead letters)."""

    def __init__(self, value: bytes | None, offset: int, partition: int = 0, error: object = None) -> None:
        self._value, self._offset, self._partition, self._error = value, offset, partition, error

    def error(self) -> object:
        return self._error

    def value(self) -> bytes | None:
        return self._value

    def topic(self) -> str:
        return "agentic.test"

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"k%d" % self._offset


def real_message(value: bytes | None, offset: int, partition: int = 0, error: object = None) -> Any:
    """confluent-kafka's own Message, made as FakeMessage is (its fields are read in place: DIRECT)."""
    import confluent_kafka

    if error is not None:
        return confluent_kafka.Message(topic="agentic.test", partition=partition,
                                       error=confluent_kafka.KafkaError(confluent_kafka.KafkaError._PARTITION_EOF))
    return confluent_kafka.Message(topic="agentic.test", partition=partition, offset=offset, value=value,
                                   key=b"k%d" % offset)


def test_confluent_messages_are_read_in_place_and_others_through_their_methods(mod: Any) -> None:
    import confluent_kafka

    assert mod.reads_in_place(confluent_kafka.Message)
    assert not mod.reads_in_place(FakeMessage)  # made from other arguments: its layout is not probed


@pytest.mark.parametrize("make", [FakeMessage, real_message], ids=["methods", "in-place"])
def test_compiled_consumer_loop_takes_good_records_and_stops_at_the_others(mod: Any, make: Any) -> None:
    from agentic.connectors.kafka import Consumed

    codec = EventCodec(IDS)
    events = [sample_event(et, i) for i in range(3) for et in EVENT_TYPES]
    datas = [codec.encode(e) for e in events]
    broken = sample_event("TripleAsserted", 1)  # written without validation, as another tool could
    rule_breaker = gen.BYTES["TripleAsserted"](dataclasses.replace(broken, valid_to_ms=broken.valid_from_ms - 1),
                                               struct.pack(">bI", 0, IDS.id_for("TripleAsserted")))
    specials = {5: None, 17: datas[3][:-3], 40: rule_breaker, 60: b"\x01" + datas[0][1:], 61: b"\x00\x00"}
    msgs: list[Any] = []
    for offset, data in enumerate(datas):
        value = specials.get(offset, data)
        msgs.append(make(value, offset, partition=offset // 50))
    msgs.insert(50, make(None, -1, partition=0, error="end of partition 0"))
    compiled = codec.batch_consumer(Consumed)
    assert compiled is not None
    run, new_batch = compiled
    out = new_batch()
    seen: set[Any] = set()
    stops, i = [], 0
    while i < len(msgs):
        i = run(msgs, i, seen, out)
        if i < len(msgs):
            stops.append(i)
            msg = msgs[i]
            value = msg.value()
            if msg.error() is None and value is not None:
                with contextlib.suppress(DecodeError):
                    out.append(msg.topic(), msg.partition(), msg.offset(), msg.key(), codec.decode(value))
            i += 1
    expected = [(o, e) for o, e in enumerate(events) if o not in specials]
    assert [(c.offset, c.event) for c in out] == expected
    assert all(type(c) is Consumed and c.key == b"k%d" % c.offset and c.partition == c.offset // 50 for c in out)
    for c in out:
        assert same_tree(c.event, events[c.offset])
    bad_positions = {o if o < 50 else o + 1 for o in specials} | {50}
    assert bad_positions <= set(stops)  # every bad record and the end of partition went to the Python path
    assert len(stops) <= len(bad_positions) + len(EVENT_TYPES)  # plus the first record of each schema id
    assert seen == {("agentic.test", 0), ("agentic.test", 1)}


def test_without_the_compiled_module_the_package_falls_back_to_python(tmp_path: Path) -> None:
    """A build without the extension (its import fails): the codec logs once and decodes in Python."""
    import subprocess
    import sys

    script = tmp_path / "no_cdecode.py"
    script.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'agentic.events._cdecode':\n"
        "            raise ImportError('blocked for the test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from agentic.schemas import EventCodec, StaticSchemaIds, catalogue\n"
        "from agentic.schemas.samples import sample_event\n"
        "codec = EventCodec(StaticSchemaIds())\n"
        "for et in catalogue.event_types():\n"
        "    e = sample_event(et, 1)\n"
        "    assert codec.decode(codec.encode(e)) == e\n"
        "assert EventCodec(StaticSchemaIds()).decoder == 'python'\n"
        "print('decoder', codec.decoder)\n")
    env = {k: v for k, v in os.environ.items() if k != "AGENTIC_PURE_PYTHON"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "decoder python" in done.stdout
    logged = done.stdout + done.stderr
    assert logged.count("codec.pure_python") == 1 and "blocked for the test" in logged


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=1500, deadline=None)
@given(value=JSON_VALUES, indent=st.sampled_from([None, 0, 2]), pad=st.sampled_from(["", " ", "\n\t", "\u00a0"]),
       cut=st.integers(0, 6), flip=st.tuples(st.integers(0, 60), st.characters()))
def test_json_recogniser_is_sure_only_of_what_is_json_accepts(mod: Any, value: Any, indent: int | None, pad: str,
                                                               cut: int, flip: tuple[int, str]) -> None:
    """The C reader takes a JSON field without asking `_is_json` only when its recogniser is sure."""
    import json

    text = pad + json.dumps(value, indent=indent, ensure_ascii=bool(cut % 2)) + pad
    if pad != "\u00a0":  # not JSON whitespace: Python refuses it and the recogniser must not be sure
        assert mod.json_sure(text), text  # plain json.dumps output is recognised (the fast path is used)
    pos, char = flip
    for variant in (text, text[: len(text) - cut], text[:pos] + char + text[pos + 1:], text + "]", "[" + text):
        if mod.json_sure(variant):
            assert gen._is_json(variant), variant


@pytest.mark.parametrize("text", ["1.", "01", "-", "1e", "[1,]", '{"a":1,}', "'a'", '"\\x"', '"\t"',
                                  "[" * 70 + "]" * 70, "1" * 4301, "nan", "-Infinity", "NaN", "Infinity",
                                  '"\\ud800"', "1e999", "-0.0E+1", '"\ud800"', "\udfff"])
def test_json_recogniser_edge_cases(mod: Any, text: str) -> None:
    if mod.json_sure(text):
        assert gen._is_json(text)
    assert mod.json_sure(text) == (text in ("-Infinity", "NaN", "Infinity", '"\\ud800"', "1e999", "-0.0E+1"))


def test_c_rules_mirror_the_current_python_rules(mod: Any) -> None:
    assert ccodegen.rules_digest() == ccodegen.RULES_DIGEST == mod.RULES_DIGEST, (
        "schemas/rules.py changed: update RULES_C in schemas/ccodegen.py to match it, then RULES_DIGEST "
        "(ccodegen.rules_digest()), then regenerate and reinstall")
    assert set(mod.C_RULES) == set(ccodegen.C_RULES) <= set(RULES)


def _member(m: Any, **change: Any) -> Any:
    return dataclasses.replace(m, **change)


def _rule_breaks() -> list[tuple[str, Any]]:
    """Events that break (or just keep) each cross-field rule, written without validation."""
    ts, qc = sample_event("TaskSubmitted", 1), sample_event("QueueConfigured", 1)
    ta, md = sample_event("TaskAllocated", 1), sample_event("MemoryDeleted", 1)
    tr, wf = sample_event("TripleAsserted", 1), sample_event("WorkflowStarted", 1)
    m0 = ts.members[0]
    q0 = qc.quotas[0]
    p0 = ta.placements[0]
    s0 = wf.steps[0]
    out: list[tuple[str, Any]] = []
    for count, milli in [(0, 0), (0, 5), (1, 0), (1, 500), (2, 500), (2, 1000), (1, 1000), (3, 999)]:
        out.append(("TaskSubmitted", dataclasses.replace(ts, members=(_member(m0, gpu_count=count, gpu_milli=milli),))))
    out.append(("TaskSubmitted", dataclasses.replace(ts, members=(m0, m0))))
    out.append(("TaskSubmitted", dataclasses.replace(ts, members=(m0, _member(m0, name=m0.name + "x")))))
    out.append(("TaskSubmitted", dataclasses.replace(ts, members=tuple(_member(m0, name=f"m{i}") for i in range(70)))))
    for resource, model in [("cpu_milli", "H100"), ("gpu_milli", "H100"), ("gpu_milli", None), ("memory_mib", None)]:
        q = dataclasses.replace(q0, resource=resource, gpu_model=model)
        out.append(("QueueConfigured", dataclasses.replace(qc, quotas=(q,))))
        out.append(("QueueConfigured", dataclasses.replace(qc, quotas=(q, q))))
        out.append(("QueueConfigured", dataclasses.replace(qc, quotas=(q, dataclasses.replace(q, gpu_model="A100")))))
    g = gen.GpuShare(index=0, milli=1000)
    for gpus in [(), (g,), (g, g), (g, dataclasses.replace(g, index=1)), (g, dataclasses.replace(g, index=1), g)]:
        out.append(("TaskAllocated", dataclasses.replace(ta, placements=(dataclasses.replace(p0, gpus=gpus),))))
    for scope in gen.DeleteScope:
        for mid, sid in [(None, None), ("m", None), (None, "s"), ("m", "s")]:
            out.append(("MemoryDeleted", dataclasses.replace(md, scope=scope, memory_id=mid, session_id=sid)))
    for to in (None, tr.valid_from_ms - 1, tr.valid_from_ms, tr.valid_from_ms + 1):
        out.append(("TripleAsserted", dataclasses.replace(tr, valid_to_ms=to)))
    a, b = dataclasses.replace(s0, step_id="a", depends_on=()), dataclasses.replace(s0, step_id="b", depends_on=("a",))
    for steps in [(a,), (a, b), (b, a), (a, a), (dataclasses.replace(a, depends_on=("a",)),),
                  (a, dataclasses.replace(b, depends_on=("c",))), (a, dataclasses.replace(b, depends_on=("a", "a")))]:
        out.append(("WorkflowStarted", dataclasses.replace(wf, steps=steps)))
    return out


def test_c_rules_refuse_exactly_what_the_python_rules_refuse(mod: Any) -> None:
    kept = broken = 0
    for event_type, event in _rule_breaks():
        data = gen.BYTES[event_type](event, struct.pack(">bI", 0, IDS.id_for(event_type)))
        slow, direct = check_record(mod, data, event_type)
        if isinstance(slow, tuple):
            broken += 1
            assert direct is None and slow[0] == "invalid_event"
        else:
            kept += 1
            assert direct is not None or len(getattr(event, "members", ())) > 64
    assert kept >= 10 and broken >= 10


UUID_EDGES = b"/09:`afgAF- \x7f"  # each side of the digit and letter ranges, the dash, and others


def test_uuid_digits_are_checked_at_every_position_against_every_range_edge(mod: Any) -> None:
    """The compiled reader tests a UUID's 32 digits 8 bytes at a time: at every one of the 36 places,
    every character next to the '0'-'9' and 'a'-'f' ranges gives the Python readers' outcome."""
    event = sample_event("MemoryAccessed", 3)
    data = FAST.encode(event)
    at = data.index(event.envelope.event_id.encode())
    refused = 0
    for pos in range(36):
        for ch in UUID_EDGES:
            record = data[:at + pos] + bytes([ch]) + data[at + pos + 1:]
            slow, direct = check_record(mod, record, "MemoryAccessed")
            refused += direct is None
            assert (direct is None) == isinstance(slow, tuple), (pos, chr(ch))
    assert refused > 36 * 8  # most edges are not digits


@pytest.mark.parametrize("length", range(41))
def test_strings_of_every_length_read_alike_ascii_or_not(mod: Any, length: int) -> None:
    """Short strings are hashed 8 bytes at a time for the shared-string table and long ones tested
    for ASCII a word at a time: every length around the word size and the table's limit (32), with a
    non-ASCII letter at each place, reads as the Python readers read it, twice in a row (the second
    read may come from the table)."""
    event = sample_event("MemoryAccessed", 3)
    texts = ["q" * length] + ["q" * i + "é" + "q" * (length - i - 1) for i in range(length)]
    for text in texts:
        data = FAST.encode(dataclasses.replace(event, query=text or "q"))
        for _ in range(2):
            slow, direct = check_record(mod, data, "MemoryAccessed")
            assert direct is not None and same_tree(direct, slow) and direct.query == (text or "q")


# ---- the compiled writer (encode): the Python check and writer's bytes, or a refusal


def enc_outcome(codec: EventCodec, event: Any) -> Any:
    try:
        return codec.encode(event)
    except EventValidationError as exc:
        return ("error", exc.field, exc.rule, str(exc))


def check_encode(mod: Any, event: Any, event_type: str) -> tuple[Any, Any]:
    """The codec gives the same bytes or the same error with the compiled writer as without it, and the
    compiled writer never writes what the Python check refuses (but for a rule it leaves to Python)."""
    slow, fast = enc_outcome(SLOW, event), enc_outcome(FAST, event)
    assert fast == slow
    header = struct.pack(">bI", 0, IDS.id_for(event_type))
    direct = mod.encode(event, mod.EVENT_TYPES.index(event_type), header)
    if direct is not None:
        if isinstance(slow, tuple):
            assert event_type in RULES and event_type not in mod.C_RULES, (slow, event)
        else:
            assert direct == slow
    return slow, direct


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_samples_encode_to_the_same_bytes(mod: Any, event_type: str) -> None:
    for i in range(12):
        slow, direct = check_encode(mod, sample_event(event_type, i), event_type)
        assert direct is not None and direct == slow, f"{event_type} sample {i} refused by the C writer"


@settings(max_examples=2000, deadline=None)
@given(item=shaped_events())
def test_generated_events_encode_alike(mod: Any, item: tuple[str, Any]) -> None:
    event_type, event = item
    slow, direct = check_encode(mod, event, event_type)
    if not isinstance(slow, tuple):  # a valid event of exact types: the C writer must take it
        assert direct is not None


class Text(str):
    pass


def _wrong_values() -> list[tuple[str, str, Any]]:
    """(event type, field path, value): values of the wrong type or just outside a rule."""
    return [
        ("MemoryAccessed", "rank", True), ("MemoryAccessed", "rank", 0), ("MemoryAccessed", "rank", 2**31),
        ("MemoryAccessed", "rank", 2**70), ("MemoryAccessed", "score", 1),
        ("MemoryAccessed", "score", math.nan), ("MemoryAccessed", "score", "0.5"),
        ("MemoryAccessed", "query", Text("gpu")), ("MemoryAccessed", "query", "\ud800"),
        ("MemoryAccessed", "query", "é" * 40), ("MemoryAccessed", "memory_id", ""),
        ("MemoryAccessed", "envelope.event_id", "2974-not-a-uuid"),
        ("MemoryAccessed", "envelope.event_type", "MemoryWritten"),
        ("MemoryAccessed", "envelope.occurred_at", -1), ("MemoryAccessed", "envelope.tenant", None),
        ("MemoryConsolidated", "method", "EXACT_DUPLICATE"), ("MemoryConsolidated", "method", "NOPE"),
        ("MemoryConsolidated", "source_ids", ["a", "b"]), ("MemoryConsolidated", "source_ids", ("a", 1)),
        ("MemoryWritten", "metadata", {"k": 1}), ("MemoryWritten", "metadata", {1: "v"}),
        ("MemoryWritten", "metadata", {"ké": "vé", "": ""}), ("MemoryWritten", "embedding", (1.0, 2)),
        ("TaskSubmitted", "members", ()), ("TripleAsserted", "valid_to_ms", 0),
    ]


@pytest.mark.parametrize(("event_type", "path", "value"), _wrong_values())
def test_wrong_types_and_edges_encode_alike(mod: Any, event_type: str, path: str, value: Any) -> None:
    """A subclass, an int for a float, a list for a tuple, a plain str for an enum member, text that is
    not valid Unicode: the compiled writer refuses what it does not take exactly, and the codec's
    outcome (bytes or the error's field, rule and text) is the Python one."""
    event = sample_event(event_type, 2)
    head, _, leaf = path.rpartition(".")
    if head:
        event = dataclasses.replace(event, **{head: dataclasses.replace(getattr(event, head), **{leaf: value})})
    else:
        event = dataclasses.replace(event, **{leaf: value})
    check_encode(mod, event, event_type)
