"""The catalogue, the generated classes and the topic declarations agree with each other."""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from pathlib import Path

import pytest

from agentic import events
from agentic.events import _generated as gen
from agentic.schemas import catalogue, codegen
from agentic.schemas.samples import sample_event
from agentic.schemas.topics import TOPICS, key_for, topic_for

EVENT_TYPES = catalogue.event_types()
PY = {"string": str, "int": int, "long": int, "double": float, "float": float, "boolean": bool}


def test_generated_module_is_fresh() -> None:
    fresh = codegen.generate()
    source = Path(__file__).resolve().parents[2] / "agentic" / "events" / "_generated.py"
    for path in (source, Path(gen.__file__)):  # the checkout's file and the one imported (installed)
        assert path.read_text(encoding="utf-8") == fresh, (
            f"{path} is stale: run python -m agentic.schemas.codegen (then reinstall)")


def test_catalogue_has_every_required_event_type() -> None:
    required = {"NodeRegistered", "NodeUpdated", "NodeRemoved", "NodeHeartbeat", "QueueConfigured", "TaskSubmitted",
                "TaskCancelled", "TaskFinished", "TaskAllocated", "TaskPending", "TaskPreempted", "TaskRejected",
                "MemoryWritten", "MemoryAccessed", "MemoryDeleted", "MemoryConsolidated", "MemoryExpired",
                "TripleAsserted", "TaskCheckpointCreated", "RuntimeCreated", "ToolCallRequested",
                "ToolCallDecided", "ToolCallCompleted", "SecurityEvent", "ModelRegistered", "RouteDecided",
                "ModelCallCompleted", "WorkflowStarted", "StepCompleted", "StepFailed", "WorkflowCompleted"}
    assert required <= set(EVENT_TYPES)
    assert set(events.EVENT_CLASSES) == set(EVENT_TYPES)


def _walk_fields(schema: dict[str, typing.Any], path: str = "") -> typing.Iterator[tuple[str, dict[str, typing.Any]]]:
    for f in schema["fields"]:
        yield f"{path}{f['name']}", f
        t = f["type"]
        for sub in (t if isinstance(t, list) else [t]):
            if isinstance(sub, dict) and sub.get("type") == "array":
                sub = sub["items"]
            if isinstance(sub, dict) and sub.get("type") == "record":
                yield from _walk_fields(sub, f"{path}{f['name']}.")


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_schema_shape_and_docs(event_type: str) -> None:
    schema = catalogue.resolved_schema(event_type)
    assert schema["namespace"] == "agentic.events"
    assert schema["fields"][0]["name"] == "envelope"
    assert schema["fields"][0]["type"]["name"] == "Envelope"
    undocumented = [path for path, f in _walk_fields(schema) if not f.get("doc")]
    assert undocumented == [], f"{event_type}: fields without doc: {undocumented}"


def _expected_annotation(t: typing.Any) -> typing.Any:
    if isinstance(t, list):
        return _expected_annotation(t[1]) | None
    if isinstance(t, str):
        return PY[t]
    kind = t["type"]
    if kind in ("record", "enum"):
        return getattr(gen, t["name"])
    if kind == "array":
        return tuple[_expected_annotation(t["items"]), ...]  # type: ignore[misc]
    if kind == "map":
        return dict[str, _expected_annotation(t["values"])]  # type: ignore[misc]
    return PY[kind]


def _check_class(cls: type, schema: dict[str, typing.Any]) -> None:
    hints = typing.get_type_hints(cls, vars(gen))
    names = [f.name for f in dataclasses.fields(cls)]
    assert names == [f["name"] for f in schema["fields"]], cls.__name__
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen and "__slots__" in vars(cls)
    for f in schema["fields"]:
        assert hints[f["name"]] == _expected_annotation(f["type"]), f"{cls.__name__}.{f['name']}"
        t = f["type"]
        if isinstance(t, dict) and t["type"] == "enum":
            enum_cls = getattr(gen, t["name"])
            assert issubclass(enum_cls, enum.StrEnum)
            assert [m.value for m in enum_cls] == t["symbols"]
        for sub in (t if isinstance(t, list) else [t]):
            if isinstance(sub, dict) and sub["type"] == "array":
                sub = sub["items"]
            if isinstance(sub, dict) and sub["type"] == "record":
                _check_class(getattr(gen, sub["name"]), sub)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_generated_class_matches_schema(event_type: str) -> None:
    cls = events.EVENT_CLASSES[event_type]
    assert event_type == cls.EVENT_TYPE
    _check_class(cls, catalogue.resolved_schema(event_type))


def test_event_alias_covers_every_class() -> None:
    assert set(typing.get_args(events.Event)) == set(events.EVENT_CLASSES.values())
    assert isinstance(events.Event, types.UnionType)


def test_every_event_type_is_on_exactly_one_topic() -> None:
    declared = [et for t in TOPICS for et in t.event_types]
    assert sorted(declared) == sorted(EVENT_TYPES)
    names = [t.name for t in TOPICS]
    assert len(set(names)) == len(names)


def test_topic_policies() -> None:
    for spec in TOPICS:
        assert spec.dlq_name == f"{spec.name}.dlq"
        if spec.event_types:
            assert spec.retention_ms == -1 and spec.cleanup_policy == "delete", spec.name
    assert topic_for("TaskSubmitted").partitions == 1
    assert topic_for("TaskAllocated").partitions == 1
    checkpoints = [t for t in TOPICS if t.name == "agentic.checkpoints"]
    assert checkpoints and checkpoints[0].cleanup_policy == "compact" and checkpoints[0].event_types == ()


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_has_a_key(event_type: str) -> None:
    key = key_for(sample_event(event_type, 1))
    assert isinstance(key, bytes) and key


def test_keys_follow_what_must_stay_ordered() -> None:
    submitted = sample_event("TaskSubmitted", 3)
    assert key_for(submitted) == submitted.task_id.encode()
    memory = sample_event("MemoryWritten", 3)
    assert key_for(memory) == memory.envelope.tenant.encode()
    node = sample_event("NodeHeartbeat", 3)
    assert key_for(node) == node.node_id.encode()
    queue = sample_event("QueueConfigured", 3)
    assert key_for(queue) == queue.queue.encode()
    call = sample_event("ToolCallDecided", 3)
    assert key_for(call) == call.tool_call_id.encode()


def test_new_envelope_defaults_and_deterministic_ids() -> None:
    env = events.new_envelope("TaskSubmitted", "acme", "cli", 1_700_000_000_000)
    assert env.correlation_id == env.event_id and env.causation_id is None
    assert events.derived_event_id("a", "1") == events.derived_event_id("a", "1") != events.derived_event_id("a", "2")
    with pytest.raises(KeyError, match="unknown event type"):
        events.new_envelope("NoSuchEvent", "acme", "cli", 0)


def test_docs_code_blocks_run() -> None:
    """docs/events.md's Python blocks run, in order, in one namespace."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "events.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict[str, typing.Any] = {}
    for block in blocks:
        exec(compile(block, str(doc), "exec"), namespace)
