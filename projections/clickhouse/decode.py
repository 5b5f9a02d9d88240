"""Decoding framed Avro records straight to the JSON form of their event (no typed classes).

The projection stores what was written: the Avro record resolved against the current schema of its event
type, in the shape of `agentic.schemas.codec.event_to_json` (enums as symbols, timestamps as int ms).
Skipping the typed classes keeps the projector fast; catalogue rules are the processors' business, so a
record that is valid Avro is projected even if a processor would dead-letter it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastavro import parse_schema, schemaless_reader

from agentic.schemas import catalogue
from agentic.schemas.errors import DecodeError

from .rows import SourceRecord

if TYPE_CHECKING:  # the codec imports every generated event class: ~0.2 s of start-up for each worker
    from agentic.schemas.codec import SchemaIds

MAGIC = 0  # Confluent wire format: magic byte, 4-byte schema id, Avro body (= agentic.schemas.codec.MAGIC)


@dataclass(frozen=True, slots=True)
class _Plan:
    writer: Any
    reader: Any | None


class DictDecoder:
    """Confluent-framed Avro bytes -> event dict. One instance per thread (it caches parsed schemas)."""

    def __init__(self, ids: SchemaIds) -> None:
        self._ids = ids
        self._plans: dict[int, _Plan] = {}
        self._current: dict[str, tuple[Any, str]] = {}

    def decode(self, data: bytes) -> dict[str, Any]:
        if len(data) < 5 or data[0] != MAGIC:
            raise DecodeError("bad_framing", f"{len(data)} bytes without the Confluent magic byte and schema id")
        sid = int.from_bytes(data[1:5], "big")
        plan = self._plans.get(sid) or self._plan(sid)
        buf = io.BytesIO(data)
        buf.seek(5)
        try:
            record = schemaless_reader(buf, plan.writer, plan.reader)
        except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, UnicodeDecodeError...
            raise DecodeError("invalid_avro", f"schema id {sid}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(record, dict):
            raise DecodeError("invalid_event", f"schema id {sid} does not hold a record")
        return record

    def _plan(self, sid: int) -> _Plan:
        try:
            writer = self._ids.writer_schema(sid)
        except LookupError as exc:
            raise DecodeError("unknown_schema_id", f"schema id {sid} is not in the registry") from exc
        event_type = catalogue.event_type_of(writer)
        if event_type not in catalogue.event_types():
            raise DecodeError("unknown_event_type", f"schema id {sid} is {event_type}, not in the catalogue")
        current, fingerprint = self._current_schema(event_type)
        same = catalogue.fingerprint_json(writer) == fingerprint
        plan = _Plan(current, None) if same else _Plan(parse_schema(catalogue.stripped(writer)), current)
        self._plans[sid] = plan
        return plan

    def _current_schema(self, event_type: str) -> tuple[Any, str]:
        got = self._current.get(event_type)
        if got is None:
            schema = catalogue.resolved_schema(event_type)
            got = self._current[event_type] = (parse_schema(catalogue.stripped(schema)),
                                               catalogue.fingerprint_json(schema))
        return got

    def record(self, topic: str, partition: int, offset: int, key: bytes | None,
               value: bytes | None) -> SourceRecord:
        """A `SourceRecord` for one Kafka record; undecodable values keep their reason instead of an event."""
        if value is None:
            return SourceRecord(topic, partition, offset, key, None, "tombstone: the record has no value")
        try:
            return SourceRecord(topic, partition, offset, key, self.decode(value))
        except DecodeError as exc:
            return SourceRecord(topic, partition, offset, key, None, str(exc))
