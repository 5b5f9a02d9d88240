"""The Python SDK: publish typed events and read them back.

    from agentic.sdk import AgenticClient
    client = AgenticClient.connect()                     # Settings from the environment
    event = client.build("NodeRemoved", {"node_id": "n1", "reason": "drained"}, tenant="acme")
    client.publish([event])                              # all validated first; then sent and acknowledged
    for item in client.tail("agentic.scheduling.inputs", limit=10):
        print(item.offset, item.event)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentic import wiring
from agentic.config import Settings
from agentic.connectors.kafka import Consumed, DeadLetter, EventConsumer, EventProducer
from agentic.schemas.codec import EventCodec, EventValidationError, event_from_json


@dataclass(frozen=True, slots=True)
class InvalidInput:
    """One rejected input: where it came from (e.g. `line 3`) and the validation error."""

    where: str
    error: EventValidationError

    def __str__(self) -> str:
        return f"{self.where}: {self.error}"


class InvalidBatch(ValueError):
    """At least one input was invalid; nothing of the batch was published."""

    def __init__(self, problems: Sequence[InvalidInput]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"{len(self.problems)} invalid event(s); nothing was published:\n{lines}{more}")


def with_envelope(obj: Mapping[str, Any], event_type: str, *, tenant: str | None, source: str,
                  now_ms: int, new_id: str) -> dict[str, Any]:
    """Fill the envelope fields a user may leave out: id, type, time, source, correlation id."""
    out = dict(obj)
    env = dict(out.get("envelope") or {})
    env.setdefault("event_id", new_id)
    env.setdefault("event_type", event_type)
    env.setdefault("occurred_at", now_ms)
    if tenant is not None:
        env.setdefault("tenant", tenant)
    env.setdefault("source", source)
    env.setdefault("correlation_id", env["event_id"])
    env.setdefault("causation_id", None)
    out["envelope"] = env
    return out


class AgenticClient:
    """Publishes and tails events. Build it with `connect()`; close it with `close()`."""

    def __init__(self, settings: Settings, codec: EventCodec, producer: EventProducer,
                 source: str = "sdk") -> None:
        self.settings = settings
        self.codec = codec
        self._producer = producer
        self._source = source

    @classmethod
    def connect(cls, settings: Settings | None = None, source: str = "sdk") -> AgenticClient:
        s = settings or Settings.from_env()
        codec = wiring.codec(s)
        return cls(s, codec, wiring.producer(s, codec), source)

    def build(self, event_type: str, fields: Mapping[str, Any], tenant: str | None = None) -> Any:
        """Make a typed event from plain JSON-like fields, filling the envelope. Raises EventValidationError."""
        obj = with_envelope(fields, event_type, tenant=tenant, source=self._source,
                            now_ms=int(time.time() * 1000), new_id=str(uuid.uuid4()))
        return event_from_json(event_type, obj)

    def publish(self, events: Sequence[Any], timeout: float = 60.0) -> int:
        """Validate and encode every event, then send them all and wait for Kafka's acknowledgements.

        Raises `InvalidBatch` (nothing sent) or `DeliveryError` (some record not acknowledged).
        """
        prepared, problems = [], []
        for i, event in enumerate(events):
            try:
                prepared.append(self._producer.prepare(event))
            except EventValidationError as exc:
                problems.append(InvalidInput(f"event {i}", exc))
        if problems:
            raise InvalidBatch(problems)
        for record in prepared:
            self._producer.send_prepared(record)
        return int(self._producer.flush(timeout))

    def tail(self, topic: str, *, from_beginning: bool = True, limit: int | None = None,
             idle_timeout: float = 5.0,
             on_bad_record: Callable[[DeadLetter], None] | None = None) -> Iterator[Consumed]:
        """Yield decoded events of `topic` without committing anything.

        Records that cannot be decoded are reported to `on_bad_record` and skipped; a reader does not
        dead-letter them (the processors that own the topic do).
        """
        consumer = EventConsumer(self.settings.kafka_bootstrap, f"agentic-tail-{uuid.uuid4()}", [topic],
                                 self.codec, None, from_beginning=from_beginning, on_dead_letter=on_bad_record)
        try:
            yield from consumer.iterate(limit=limit, idle_timeout=idle_timeout)
        finally:
            consumer.close()

    def close(self, timeout: float = 30.0) -> None:
        self._producer.flush(timeout)
