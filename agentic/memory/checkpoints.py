"""Checkpoints of long-running agent tasks: ``TaskCheckpointCreated`` events on ``agentic.memory``.

``create`` publishes the next checkpoint of a task and returns once Kafka acknowledged it, so a
crash after ``create`` returns cannot lose it; ``resume`` reads the task's checkpoints back from the
log and returns the state of the latest one, exactly as it was saved (the JSON text is stored
verbatim). The folding is pure (:func:`latest`, :func:`history`); only :class:`Checkpoints` does I/O.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from agentic import events as ev
from agentic.memory.lines import MemoryInputError
from agentic.schemas.topics import MEMORY
from agentic.sdk import AgenticClient


@dataclass(frozen=True, slots=True)
class Checkpoint:
    task_id: str
    checkpoint_id: str
    sequence: int
    created_at: int
    state: Any
    state_json: str
    intermediate_result: str | None
    reflection: str | None
    next_steps: tuple[str, ...]


def _of(e: ev.TaskCheckpointCreated) -> Checkpoint:
    return Checkpoint(e.task_id, e.checkpoint_id, e.sequence, e.envelope.occurred_at, json.loads(e.state),
                      e.state, e.intermediate_result, e.reflection, tuple(e.next_steps))


def history(events: Iterable[object], tenant: str, task_id: str) -> list[Checkpoint]:
    """The task's checkpoints in sequence order (a re-delivered checkpoint id counts once)."""
    seen: dict[str, Checkpoint] = {}
    for e in events:
        if isinstance(e, ev.TaskCheckpointCreated) and e.envelope.tenant == tenant and e.task_id == task_id:
            seen.setdefault(e.checkpoint_id, _of(e))
    return sorted(seen.values(), key=lambda c: (c.sequence, c.created_at, c.checkpoint_id))


def latest(events: Iterable[object], tenant: str, task_id: str) -> Checkpoint | None:
    found = history(events, tenant, task_id)
    return found[-1] if found else None


class Checkpoints:
    def __init__(self, client: AgenticClient, idle_timeout: float = 2.0) -> None:
        self._client = client
        self._idle = idle_timeout

    def _events(self) -> list[object]:
        return [c.event for c in self._client.tail(MEMORY.name, idle_timeout=self._idle)]

    def history(self, tenant: str, task_id: str) -> list[Checkpoint]:
        _require(tenant, task_id)
        return history(self._events(), tenant, task_id)

    def resume(self, tenant: str, task_id: str) -> Checkpoint | None:
        _require(tenant, task_id)
        return latest(self._events(), tenant, task_id)

    def create(self, tenant: str, task_id: str, state: Any, intermediate_result: str | None = None,
               reflection: str | None = None, next_steps: Sequence[str] = ()) -> Checkpoint:
        _require(tenant, task_id)
        try:
            state_json = json.dumps(state, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise MemoryInputError(f"state: must be JSON-serialisable ({exc})") from exc
        previous = self.history(tenant, task_id)
        sequence = previous[-1].sequence + 1 if previous else 1
        event = self._client.build("TaskCheckpointCreated", {
            "task_id": task_id, "checkpoint_id": str(uuid.uuid4()), "sequence": sequence,
            "state": state_json, "intermediate_result": intermediate_result, "reflection": reflection,
            "next_steps": list(next_steps)}, tenant=tenant)
        self._client.publish([event])
        return _of(event)


def _require(tenant: str, task_id: str) -> None:
    if not tenant or not tenant.strip():
        raise MemoryInputError("tenant: required; checkpoints belong to one tenant")
    if not task_id or not task_id.strip():
        raise MemoryInputError("task_id: required")
