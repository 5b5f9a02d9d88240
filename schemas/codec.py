"""The event codec: typed event <-> Confluent-framed Avro bytes. Pure: no I/O except through the
``SchemaIds`` the caller supplies (the registry connector, or :class:`StaticSchemaIds` in tests).

Wire format: magic byte ``0``, 4-byte big-endian schema id from the registry, Avro binary body
(Confluent framing; subjects use TopicRecordNameStrategy, see ``connectors/registry.py``).
Decoding resolves the writer schema of the id against the current (reader) schema of that event
type; when both are the same, resolution is skipped.

Speed: per event the codec runs the generated code of the class: a type/rule check, then a
straight-line Avro writer (byte-identical to fastavro's output, checked by the tests, about 3x
faster). Decoding looks up one closure per 5-byte header (magic byte + schema id): when the
record was written with the current schema it runs the generated straight-line reader (table
varints, nested records inline, objects filled without the frozen ``__init__``; it enforces
the int/long ranges itself, so the decode-side check ``VCHK`` only holds the catalogue's field
constraints), then the end check and the cross-field rules. Another writer schema goes through
fastavro's schemaless reader with schema resolution (schemas parsed once per id), the generated
from-dict function and the full check ``CHK``. Caches are only ever filled with equal values,
so sharing a codec between threads is safe.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from fastavro import parse_schema, schemaless_reader

from agentic.events import Envelope, Event
from agentic.events import _generated as gen
from agentic.schemas import catalogue
from agentic.schemas.errors import DecodeError, EventValidationError
from agentic.schemas.rules import RULES

MAGIC = 0
HEADER = struct.Struct(">bI")

__all__ = [
    "DecodeError",
    "EventCodec",
    "EventValidationError",
    "SchemaIds",
    "StaticSchemaIds",
    "event_from_json",
    "event_to_json",
    "validate",
]


class SchemaIds(Protocol):
    """Schema ids of the registry, supplied by the registry connector."""

    def id_for(self, event_type: str) -> int: ...

    def writer_schema(self, schema_id: int) -> dict[str, Any]: ...


class StaticSchemaIds:
    """Ids fixed in memory (for unit tests and offline tools): the current catalogue gets ids
    ``1..n`` in sorted event-type order; ``extra`` adds more writer schemas by id (e.g. historical)."""

    def __init__(self, extra: Mapping[int, dict[str, Any]] | None = None) -> None:
        self._ids = {et: i for i, et in enumerate(catalogue.event_types(), start=1)}
        self._schemas: dict[int, dict[str, Any]] = {
            i: catalogue.resolved_schema(et) for et, i in self._ids.items()
        }
        for sid, schema in (extra or {}).items():
            if sid in self._schemas:
                used_by = catalogue.event_type_of(self._schemas[sid])
                raise ValueError(f"schema id {sid} is already used by {used_by}")
            self._schemas[sid] = schema

    def id_for(self, event_type: str) -> int:
        return self._ids[event_type]

    def writer_schema(self, schema_id: int) -> dict[str, Any]:
        return self._schemas[schema_id]


def validate(event: Any) -> None:
    """Check an event against its schema and the catalogue rules; raise EventValidationError."""
    cls = type(event)
    name = getattr(cls, "EVENT_TYPE", None)
    if name is None or gen.EVENT_CLASSES.get(name) is not cls:
        raise EventValidationError("", "event_class",
                                   f"{cls.__name__} is not an event class; use the classes of agentic.events")
    gen.CHK[name](event)
    _check_event_type(event, name)
    rule = RULES.get(name)
    if rule is not None:
        rule(event)


def _check_event_type(event: Any, name: str) -> None:
    if event.envelope.event_type != name:
        raise EventValidationError("envelope.event_type", "event_type_matches_class",
                                   f"is {event.envelope.event_type!r} on a {name}; set it to {name!r}")


@dataclass(frozen=True, slots=True)
class _EncodePlan:
    header: bytes
    write: Callable[[Any, bytes], bytes]
    check: Callable[[Any], None]
    rule: Callable[[Any], None] | None
    event_type: str


@dataclass(frozen=True, slots=True)
class _DecodePlan:
    writer: Any
    reader: Any | None  # None when writer == reader: no resolution needed
    read: Callable[[bytes, int], tuple[Any, int]] | None  # generated reader, when writer == reader
    readv: Callable[[bytes, int], tuple[Any, int]] | None  # the same with the field constraints checked
    from_dict: Callable[[dict[str, Any]], Any]
    check: Callable[[Any], None]
    rule: Callable[[Any], None] | None
    event_type: str


@dataclass(frozen=True, slots=True)
class _Parsed:
    """The current schema of an event type parsed for fastavro, with its fingerprint."""

    schema: Any
    fingerprint: str


def _parsed_current(event_type: str) -> _Parsed:
    schema = catalogue.resolved_schema(event_type)
    return _Parsed(parse_schema(catalogue.stripped(schema)), catalogue.fingerprint_json(schema))


class EventCodec:
    """Typed events <-> Confluent-framed Avro. ``validate_on_decode`` re-checks decoded events
    against the catalogue's field and cross-field rules (types are guaranteed by Avro)."""

    def __init__(self, ids: SchemaIds, *, validate_on_decode: bool = True) -> None:
        self._ids = ids
        self._validate_on_decode = validate_on_decode
        self._current: dict[str, _Parsed] = {}
        self._enc: dict[type, _EncodePlan] = {}
        self._decoders: dict[bytes, Callable[[bytes], Event]] = {}  # by 5-byte header

    # ---- encoding
    def encode(self, event: Event) -> bytes:
        """Validate and encode one event; raises EventValidationError naming the field and rule."""
        plan = self._enc.get(type(event)) or self._encode_plan(event)
        plan.check(event)
        if event.envelope.event_type != plan.event_type:
            _check_event_type(event, plan.event_type)
        if plan.rule is not None:
            plan.rule(event)
        try:
            return plan.write(event, plan.header)
        except UnicodeEncodeError as exc:  # lone surrogates: the only str the type checks let through
            raise EventValidationError("", "utf8", f"a string is not valid Unicode text ({exc.reason}); "
                                       "remove lone surrogates") from exc

    def _current_schema(self, event_type: str) -> _Parsed:
        parsed = self._current.get(event_type)
        if parsed is None:
            parsed = self._current[event_type] = _parsed_current(event_type)
        return parsed

    def _encode_plan(self, event: Any) -> _EncodePlan:
        cls = type(event)
        name = getattr(cls, "EVENT_TYPE", None)
        if name is None or gen.EVENT_CLASSES.get(name) is not cls:
            raise EventValidationError("", "event_class",
                                       f"{cls.__name__} is not an event class; use agentic.events")
        plan = _EncodePlan(HEADER.pack(MAGIC, self._ids.id_for(name)), gen.BYTES[name], gen.CHK[name],
                           RULES.get(name), name)
        self._enc[cls] = plan
        return plan

    # ---- decoding
    def decode(self, data: bytes) -> Event:
        """Decode one framed record; raises DecodeError with a ``reason``."""
        decoder = self._decoders.get(data[:5])  # magic byte + schema id: one look-up per record
        if decoder is None:
            decoder = self._decoder(data)
        return decoder(data)

    def decode_many(self, datas: Sequence[bytes]) -> list[Event | DecodeError]:
        """Decode a batch; a record that fails yields its DecodeError in place (order kept)."""
        out: list[Event | DecodeError] = []
        decode = self.decode
        for data in datas:
            try:
                out.append(decode(data))
            except DecodeError as exc:
                out.append(exc)
        return out

    def _decoder(self, data: bytes) -> Callable[[bytes], Event]:
        """The decoder of the record's schema id (built once per id); raises DecodeError for bad framing."""
        if len(data) < 5:
            raise DecodeError("truncated", f"{len(data)} bytes; a framed record has at least 5")
        if data[0] != MAGIC:
            raise DecodeError("bad_magic", f"first byte is {data[0]}, not the Confluent magic byte 0")
        sid = int.from_bytes(data[1:5], "big")
        plan = self._decode_plan(sid)
        decoder = _plan_decoder(plan, sid, self._validate_on_decode)
        self._decoders[data[:5]] = decoder
        return decoder

    def _decode_plan(self, sid: int) -> _DecodePlan:
        try:
            writer = self._ids.writer_schema(sid)
        except LookupError as exc:
            raise DecodeError("unknown_schema_id", f"schema id {sid} is not in the registry") from exc
        event_type = catalogue.event_type_of(writer)
        if event_type not in gen.EVENT_CLASSES:
            raise DecodeError("unknown_event_type", f"schema id {sid} is {catalogue.full_name(writer)}, "
                                                   "not an event of this catalogue")
        current = self._current_schema(event_type)
        same = catalogue.fingerprint_json(writer) == current.fingerprint
        try:
            parsed_writer = current.schema if same else parse_schema(catalogue.stripped(writer))
        except Exception as exc:  # a registry schema fastavro cannot parse
            raise DecodeError("invalid_avro", f"writer schema {sid} does not parse: {exc}") from exc
        return _DecodePlan(parsed_writer, None if same else current.schema,
                           gen.READ[event_type] if same else None, gen.READV[event_type] if same else None,
                           gen.DEC[event_type],
                           # the generated reader guarantees types and ranges; fastavro's dicts do not
                           gen.VCHK[event_type] if same else gen.CHK[event_type], RULES.get(event_type),
                           event_type)


def _plan_decoder(plan: _DecodePlan, sid: int, validate_on_decode: bool) -> Callable[[bytes], Event]:
    """One closure per schema id, everything it needs bound once, nothing looked up per record."""
    if plan.readv is not None and validate_on_decode:
        return _checked_decoder(plan, plan.readv, _canonical_decoder(plan, sid, True), plan.event_type)
    return _canonical_decoder(plan, sid, validate_on_decode)


def _canonical_decoder(plan: _DecodePlan, sid: int, validate_on_decode: bool) -> Callable[[bytes], Event]:
    """Read (the generated reader, or fastavro resolution for another writer schema), check the end,
    then validate: ``VCHK``/``CHK`` for the field constraints, the event type, the cross-field rule."""
    read = plan.read or partial(_resolve, plan)
    check, rule, event_type = plan.check, plan.rule, plan.event_type
    where = f"schema id {sid} ({event_type})"

    def decode(data: bytes) -> Event:
        try:
            event, end = read(data, 5)
        except DecodeError:
            raise
        except Exception as exc:  # IndexError, ValueError, UnicodeDecodeError, EOFError, struct.error, ...
            raise DecodeError("invalid_avro", f"{where}: {type(exc).__name__}: {exc}") from exc
        if end != len(data):
            raise _end_error(end, len(data), event_type)
        if validate_on_decode:
            try:
                check(event)
                if event.envelope.event_type != event_type:
                    _check_event_type(event, event_type)
                if rule is not None:
                    rule(event)
            except EventValidationError as exc:
                raise DecodeError("invalid_event", f"{event_type}: {exc}") from exc
        return event  # type: ignore[no-any-return]

    return decode


def _checked_decoder(plan: _DecodePlan, readv: Callable[[bytes, int], tuple[Any, int]],
                     canonical: Callable[[bytes], Event], event_type: str) -> Callable[[bytes], Event]:
    """The fast path: the checked reader tests the field constraints as it reads (no second walk over
    the event). Any failure is handed to the canonical decoder, which finds and words the same error
    (structure first, then the end, then the first broken constraint by path and rule)."""
    rule = plan.rule

    def decode(data: bytes) -> Event:
        try:
            event, end = readv(data, 5)
        except Exception:  # gen.Refused, or bytes that are not this record: let the canonical path say why
            return canonical(data)
        if end != len(data) or event.envelope.event_type != event_type:
            return canonical(data)
        if rule is not None:
            try:
                rule(event)
            except EventValidationError as exc:
                raise DecodeError("invalid_event", f"{event_type}: {exc}") from exc
        return event  # type: ignore[no-any-return]

    return decode


def _resolve(plan: _DecodePlan, data: bytes, start: int) -> tuple[Any, int]:
    """Another writer schema: fastavro resolves it against the current one."""
    buf = io.BytesIO(data)
    buf.seek(start)
    record = schemaless_reader(buf, plan.writer, plan.reader)
    if type(record) is not dict:
        raise DecodeError("invalid_event", f"{plan.event_type}: the writer schema does not hold a record")
    try:
        return plan.from_dict(record), buf.tell()
    except (KeyError, TypeError) as exc:
        raise DecodeError("invalid_event", f"{plan.event_type}: {exc!r}") from exc


def _end_error(end: int, size: int, event_type: str) -> DecodeError:
    """The reader stopped before the end (trailing bytes) or past it (a string or bytes length
    beyond the data: the generated reader checks that once, here, not per field)."""
    if end > size:
        return DecodeError("invalid_avro", f"the {event_type} record needs {end - size} bytes more than the "
                                           f"{size} there are (a length is out of range)")
    return DecodeError("trailing_bytes", f"{size - end} bytes after the {event_type} record")


# ---- JSON (CLI publish / tail)
def event_to_json(event: Event) -> dict[str, Any]:
    """The event as JSON-ready data: the Avro shape (field names of the schema, enums as strings,
    arrays as lists, timestamps as int ms), with ``event_type`` available in ``envelope``."""
    return _jsonable(gen.ENC[type(event).EVENT_TYPE](event))  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, str):
        return str(value)  # StrEnum -> plain str
    return value


def event_from_json(event_type: str, obj: dict[str, Any], envelope: Envelope | None = None) -> Event:
    """An event from JSON data shaped like :func:`event_to_json`'s output, validated.

    Missing optional fields take their schema defaults; unknown fields are refused. When ``obj``
    has no ``envelope`` and one is given, it is used. Raises EventValidationError.
    """
    if event_type not in gen.EVENT_CLASSES:
        raise EventValidationError("event_type", "known_event_type",
                                   f"{event_type!r} is not an event type; use one of "
                                   f"{', '.join(sorted(gen.EVENT_CLASSES))}")
    if not isinstance(obj, dict):
        raise EventValidationError("", "type", f"the event must be a JSON object, got {type(obj).__name__}")
    schema = catalogue.resolved_schema(event_type)
    data = dict(obj)
    if "envelope" not in data and envelope is not None:
        data["envelope"] = gen.ENC["Envelope"](envelope)
    shaped = _shape_record(schema, data, "")
    event = gen.DEC[event_type](shaped)
    validate(event)
    return event  # type: ignore[no-any-return]


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _shape_record(schema: dict[str, Any], obj: Any, path: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise EventValidationError(path, "type", f"must be a JSON object ({schema['name']}), got {obj!r:.60}")
    names = {f["name"] for f in schema["fields"]}
    unknown = sorted(set(obj) - names)
    if unknown:
        raise EventValidationError(_join(path, unknown[0]), "unknown_field",
                                   f"is not a field of {schema['name']}; known: {', '.join(sorted(names))}")
    out: dict[str, Any] = {}
    for f in schema["fields"]:
        fpath = _join(path, f["name"])
        if f["name"] in obj:
            out[f["name"]] = _shape(f["type"], obj[f["name"]], fpath)
        elif "default" in f:
            out[f["name"]] = f["default"]
        else:
            raise EventValidationError(fpath, "required", f"is required ({f.get('doc', '')})")
    return out


def _shape(t: Any, value: Any, path: str) -> Any:
    """JSON value -> the Avro-dict value the generated decoder expects; type errors are left to
    the generated check, which names the field; shapes that would crash the decoder fail here."""
    if isinstance(t, list):
        if value is None:
            if "null" in t:
                return None
            raise EventValidationError(path, "required", "must not be null")
        branch = next(b for b in t if b != "null")
        return _shape(branch, value, path)
    if isinstance(t, str):
        if t in ("double", "float") and type(value) is int:
            return float(value)
        return value
    kind = t["type"]
    if kind == "record":
        return _shape_record(t, value, path)
    if kind == "enum":
        if value not in t["symbols"]:
            symbols = ", ".join(t["symbols"])
            raise EventValidationError(path, "enum", f"is {value!r:.60}; use one of {symbols}")
        return value
    if kind == "array":
        if not isinstance(value, list):
            raise EventValidationError(path, "type", f"must be a JSON array, got {value!r:.60}")
        return [_shape(t["items"], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise EventValidationError(path, "type", f"must be a JSON object (map), got {value!r:.60}")
        return {k: _shape(t["values"], v, f"{path}[{k!r}]") for k, v in value.items()}
    return _shape(kind, value, path)  # {"type": "long", "logicalType": ...}


def schema_text(event_type: str) -> str:
    """The registered form of an event type's schema (compact JSON)."""
    return json.dumps(catalogue.resolved_schema(event_type), separators=(",", ":"))
