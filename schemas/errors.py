"""The two errors of the event codec: an invalid event (caller's fault) and undecodable bytes."""

from __future__ import annotations


class EventValidationError(ValueError):
    """An event breaks its schema or a rule of the catalogue.

    ``field`` is the dotted path inside the event (``members[0].gpu_milli``, ``envelope.tenant``),
    ``rule`` a short machine-readable rule name (``type``, ``minimum``, ``required``, ...), and
    ``message`` says what is wrong and what to do.
    """

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(f"{field or '<event>'}: {message} [rule: {rule}]")
        self.field = field
        self.rule = rule
        self.message = message

    def within(self, prefix: str) -> EventValidationError:
        """The same error seen from the enclosing record (``prefix`` is the path of this one)."""
        if not self.field:
            path = prefix
        elif self.field.startswith("["):
            path = prefix + self.field
        else:
            path = f"{prefix}.{self.field}"
        return EventValidationError(path, self.rule, self.message)


class DecodeError(ValueError):
    """Bytes that cannot become an event. ``reason`` is one of: ``truncated``, ``bad_magic``,
    ``unknown_schema_id``, ``unknown_event_type``, ``invalid_avro``, ``trailing_bytes``, ``invalid_event``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
