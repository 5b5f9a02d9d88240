"""The memory line format (one JSON object per memory) and its validation.

Fields: ``tenant`` (required), ``content`` (required, non-blank), ``memory_id`` (default: a uuid5
of tenant, session and content), ``session_id`` (default ``"default"``), ``agent_id`` (default
``"default"``), ``memory_type`` (SHORT_TERM, WORKING, LONG_TERM, EPISODIC or SEMANTIC, any case;
default EPISODIC), ``occurred_at`` (ms since the epoch, or ISO-8601; default 0), ``metadata``
(object of strings), ``importance`` (0..1 or null), ``ttl_ms`` (positive or null),
``source_refs`` (list of strings), ``embedding`` (list of floats of the model's dimension, or
absent to let the service embed ``content``), ``event_id`` (default: derived from the line).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agentic.streams.memory import MemoryType, WriteMemory

_LINE_NS = uuid.UUID("0b7d8f5e-5c1a-4f0e-8d6e-2f3b9a1c7e44")
_FIELDS = {"tenant", "content", "memory_id", "session_id", "agent_id", "memory_type", "occurred_at",
           "metadata", "importance", "ttl_ms", "source_refs", "embedding", "event_id"}


class MemoryInputError(ValueError):
    """A memory line or search request broke a rule; names the field, the rule and the line."""


def _fail(line_no: int | None, field: str, rule: str) -> MemoryInputError:
    where = f"line {line_no}: " if line_no is not None else ""
    return MemoryInputError(f"{where}{field}: {rule}")


def _time(value: Any, line_no: int | None) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise _fail(line_no, "occurred_at", "must be ms since the epoch or an ISO-8601 time")
    if isinstance(value, int | float):
        return int(value)
    try:
        return int(datetime.fromisoformat(str(value)).timestamp() * 1000)
    except ValueError as exc:
        raise _fail(line_no, "occurred_at", f"{value!r} is neither ms since the epoch nor ISO-8601") from exc


def parse_memory_type(value: Any, line_no: int | None = None) -> MemoryType:
    text = str(value or "EPISODIC").strip().upper().replace("-", "_")
    try:
        return MemoryType(text)
    except ValueError as exc:
        allowed = ", ".join(m.value for m in MemoryType)
        raise _fail(line_no, "memory_type", f"unknown type {value!r}; use one of {allowed}") from exc


def parse_line(obj: Mapping[str, Any], line_no: int | None = None,
               embedding: tuple[float, ...] = ()) -> WriteMemory:
    """A validated write command from one memory line (``embedding`` fills a missing vector)."""
    if not isinstance(obj, Mapping):
        raise _fail(line_no, "line", "must be a JSON object")
    unknown = sorted(set(obj) - _FIELDS)
    if unknown:
        raise _fail(line_no, unknown[0], f"unknown field; allowed fields are {', '.join(sorted(_FIELDS))}")
    tenant = obj.get("tenant")
    if not isinstance(tenant, str) or not tenant.strip():
        raise _fail(line_no, "tenant", "required: a non-empty string naming the tenant that owns the memory")
    content = obj.get("content")
    if not isinstance(content, str) or not content.strip():
        raise _fail(line_no, "content", "required: non-empty text")
    session = str(obj.get("session_id") or "default")
    memory_id = str(obj.get("memory_id") or uuid.uuid5(_LINE_NS, f"{tenant}\x1f{session}\x1f{content}"))
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise _fail(line_no, "metadata", "must be an object of string values")
    importance = obj.get("importance")
    if importance is not None and (isinstance(importance, bool) or not isinstance(importance, int | float)
                                   or not 0.0 <= float(importance) <= 1.0):
        raise _fail(line_no, "importance", f"must be a number within [0, 1] or null, got {importance!r}")
    ttl = obj.get("ttl_ms")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0):
        raise _fail(line_no, "ttl_ms", f"must be a positive integer (milliseconds) or null, got {ttl!r}")
    raw_vec = obj.get("embedding")
    vector = embedding
    if raw_vec is not None:
        if not isinstance(raw_vec, list) or not all(isinstance(x, int | float) for x in raw_vec):
            raise _fail(line_no, "embedding", "must be a list of numbers")
        vector = tuple(float(x) for x in raw_vec)
    refs = obj.get("source_refs") or []
    if not isinstance(refs, list):
        raise _fail(line_no, "source_refs", "must be a list of strings")
    at = _time(obj.get("occurred_at"), line_no)
    event_id = str(obj.get("event_id") or hashlib.sha256(
        f"{tenant}\x1f{memory_id}\x1f{at}\x1f{content}".encode()).hexdigest()[:32])
    return WriteMemory(
        event_id=event_id, occurred_at=at, tenant=tenant, agent_id=str(obj.get("agent_id") or "default"),
        session_id=session, memory_id=memory_id, memory_type=parse_memory_type(obj.get("memory_type"), line_no),
        content=content, embedding=vector, metadata=tuple(sorted((str(k), str(v)) for k, v in metadata.items())),
        importance=None if importance is None else float(importance), ttl_ms=ttl,
        source_refs=tuple(str(r) for r in refs),
    )
