"""Every Kafka topic of the system, declared once: which events it carries, how they are keyed
(what must stay ordered), partitions and retention. Topic creation reads :data:`TOPICS`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class TopicSpec:
    """One topic.

    ``key_field`` names the event field whose value is the message key; it may list candidates
    separated by ``|`` (the first one the event has, with a non-null value, wins; fields of the
    envelope, such as ``tenant``, are looked up after the event's own fields).
    ``retention_ms = -1`` keeps records forever.
    """

    name: str
    event_types: tuple[str, ...]
    key_field: str
    partitions: int
    doc: str
    retention_ms: int = -1
    cleanup_policy: str = "delete"

    @property
    def dlq_name(self) -> str:
        """Dead-letter topic: undecodable or invalid records, with their original bytes."""
        return f"{self.name}.dlq"

    @property
    def key_fields(self) -> tuple[str, ...]:
        return tuple(self.key_field.split("|")) if self.key_field else ()

    def config(self) -> dict[str, str]:
        """Topic-level configs for topic creation."""
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}


SCHEDULING_INPUTS = TopicSpec(
    name="agentic.scheduling.inputs",
    event_types=("NodeRegistered", "NodeUpdated", "NodeRemoved", "NodeHeartbeat", "QueueConfigured",
                 "TaskSubmitted", "TaskCancelled", "TaskFinished"),
    key_field="node_id|task_id|queue",
    partitions=1,
    doc="Cluster and task inputs of the scheduler. One partition: the scheduler needs one total order "
        "of its inputs to decide deterministically.",
)
SCHEDULING_DECISIONS = TopicSpec(
    name="agentic.scheduling.decisions",
    event_types=("TaskAllocated", "TaskPending", "TaskPreempted", "TaskRejected"),
    key_field="task_id",
    partitions=1,
    doc="Decisions of the scheduler, in the order it made them (one partition).",
)
MEMORY = TopicSpec(
    name="agentic.memory",
    event_types=("MemoryWritten", "MemoryAccessed", "MemoryDeleted", "MemoryConsolidated", "MemoryExpired",
                 "TripleAsserted", "TaskCheckpointCreated"),
    key_field="tenant",
    partitions=3,
    doc="Agent memory, knowledge triples and task checkpoints. Keyed by tenant: one tenant's writes, "
        "deletes and consolidations stay in order.",
)
TOOLS = TopicSpec(
    name="agentic.tools",
    event_types=("RuntimeCreated", "ToolCallRequested", "ToolCallDecided", "ToolCallCompleted",
                 "SecurityEvent"),
    key_field="tool_call_id|runtime_id|tenant",
    partitions=3,
    doc="Sandboxed runtimes, tool calls and security events. Keyed by tool call id, so a call's "
        "request, decision and completion stay in order; runtimes by runtime id; other security "
        "events by tenant.",
)
MODELS = TopicSpec(
    name="agentic.models",
    event_types=("ModelRegistered", "RouteDecided", "ModelCallCompleted"),
    key_field="request_id|model_id",
    partitions=3,
    doc="Model registry, routing decisions and model calls. Keyed by request id (a route decision "
        "and its call stay in order); registrations by model id.",
)
WORKFLOWS = TopicSpec(
    name="agentic.workflows",
    event_types=("WorkflowStarted", "StepCompleted", "StepFailed", "WorkflowCompleted"),
    key_field="workflow_id",
    partitions=3,
    doc="Workflow runs and their steps. Keyed by workflow id: one run's history stays in order.",
)
CHECKPOINTS = TopicSpec(
    name="agentic.checkpoints",
    event_types=(),
    key_field="",
    partitions=1,
    cleanup_policy="compact",
    doc="Snapshots of stream processors' state (raw bytes, keyed by processor id). Compacted: "
        "only the latest snapshot per processor is kept. Not an event topic.",
)

TOPICS: tuple[TopicSpec, ...] = (SCHEDULING_INPUTS, SCHEDULING_DECISIONS, MEMORY, TOOLS, MODELS, WORKFLOWS,
                                 CHECKPOINTS)


@cache
def _by_event_type() -> dict[str, TopicSpec]:
    out: dict[str, TopicSpec] = {}
    for spec in TOPICS:
        for et in spec.event_types:
            if et in out:
                raise ValueError(f"event type {et} is declared on both {out[et].name} and {spec.name}")
            out[et] = spec
    return out


def topic_for(event_type: str) -> TopicSpec:
    """The topic an event type is published to."""
    try:
        return _by_event_type()[event_type]
    except KeyError:
        raise KeyError(f"event type {event_type!r} is on no topic; declare it in schemas/topics.py") from None


def topic_named(name: str) -> TopicSpec:
    for spec in TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown topic {name!r}; known: {', '.join(t.name for t in TOPICS)}")


_KEY_GETTERS: dict[type, tuple[tuple[bool, str], ...]] = {}


def _key_getters(cls: type) -> tuple[tuple[bool, str], ...]:
    """(on the envelope?, field name) for each key candidate this event class has, in order."""
    spec = topic_for(cls.EVENT_TYPE)  # type: ignore[attr-defined]
    own = set(getattr(cls, "__dataclass_fields__", {}))
    from agentic.events import Envelope  # the envelope's fields are the fallback candidates

    envelope_fields = set(Envelope.__dataclass_fields__)
    getters = [(name not in own, name) for name in spec.key_fields if name in own or name in envelope_fields]
    if not getters:
        raise ValueError(f"{cls.__name__} has none of the key fields {spec.key_field!r} of {spec.name}")
    return _KEY_GETTERS.setdefault(cls, tuple(getters))


def key_for(event: Any) -> bytes:
    """The message key of an event (UTF-8), per its topic's ``key_field``."""
    cls = type(event)
    for on_envelope, name in _KEY_GETTERS.get(cls) or _key_getters(cls):
        value = getattr(event.envelope if on_envelope else event, name)
        if value is not None:
            return str(value).encode()
    raise ValueError(f"{type(event).__name__}: every key field of its topic is null")
