"""Typed, frozen event classes generated from the Avro catalogue (``schemas/avro``).

Representation (see docs/events.md):
- every class is ``@dataclass(frozen=True, slots=True, kw_only=True)``; construct with keywords;
- enums are ``enum.StrEnum`` (a plain ``str`` of a valid symbol is accepted when encoding);
- ``occurred_at`` and every other timestamp are ``int`` milliseconds since the epoch, UTC;
- Avro arrays are ``tuple``; Avro maps are plain ``dict`` (do not mutate them: events are facts);
- ``["null", T]`` fields are ``T | None`` and default to ``None``.
"""

from __future__ import annotations

import uuid

from agentic.events import _generated
from agentic.events._generated import *  # noqa: F403  (re-export: the generated module lists its public names)
from agentic.events._generated import EVENT_CLASSES, Envelope

# Namespace of the deterministic event ids derived by processors (uuid5), fixed forever.
EVENT_ID_NAMESPACE = uuid.UUID("5f1d3c52-8b7e-4c1a-9d5e-6a0b2c4e8f10")


def derived_event_id(*parts: str) -> str:
    """A deterministic event id (UUID v5) from stable parts, e.g. the causing event id and an index.

    Pure processors use it so that replaying the log yields byte-identical output events.
    """
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "\x1f".join(parts)))


def new_envelope(
    event_type: str,
    tenant: str,
    source: str,
    occurred_at: int,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    event_id: str | None = None,
) -> Envelope:
    """An envelope for a new event. ``occurred_at`` is ms since the epoch (UTC).

    Without ``event_id`` a random UUID4 is drawn: fine at the edge (CLI, SDK); pure processors
    must pass one (see :func:`derived_event_id`). ``correlation_id`` defaults to the event id
    (the event starts a new chain).
    """
    if event_type not in EVENT_CLASSES:
        raise KeyError(f"unknown event type {event_type!r}; known: {', '.join(sorted(EVENT_CLASSES))}")
    eid = event_id if event_id is not None else str(uuid.uuid4())
    return Envelope(
        event_id=eid,
        event_type=event_type,
        occurred_at=occurred_at,
        tenant=tenant,
        source=source,
        correlation_id=correlation_id if correlation_id is not None else eid,
        causation_id=causation_id,
    )


__all__ = ["EVENT_ID_NAMESPACE", "derived_event_id", "new_envelope"]
__all__ += _generated.__all__
