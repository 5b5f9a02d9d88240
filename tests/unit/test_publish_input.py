"""Pure parts of publishing: envelope defaults, JSON-line parsing, field-level errors."""

from __future__ import annotations

import json

import pytest

from agentic.cli.events import _parse
from agentic.schemas.codec import EventValidationError, event_from_json, event_to_json
from agentic.schemas.samples import sample_event
from agentic.sdk import InvalidBatch, InvalidInput, with_envelope


def test_envelope_defaults_fill_only_what_is_missing() -> None:
    out = with_envelope({"envelope": {"tenant": "t1", "source": "mine"}, "node_id": "n1"}, "NodeRemoved",
                        tenant="ignored", source="cli", now_ms=1234, new_id="0e6a1f7e-3b1e-4c59-9a55-1f0d5e0e7a01")
    env = out["envelope"]
    assert env["tenant"] == "t1" and env["source"] == "mine"
    assert env["event_type"] == "NodeRemoved" and env["occurred_at"] == 1234
    assert env["correlation_id"] == env["event_id"] == "0e6a1f7e-3b1e-4c59-9a55-1f0d5e0e7a01"
    assert env["causation_id"] is None


def test_a_line_may_name_its_own_type() -> None:
    kind, fields = _parse("line 1", json.dumps({"event_type": "NodeRemoved", "node_id": "n"}), None)
    assert kind == "NodeRemoved" and fields == {"node_id": "n"}


@pytest.mark.parametrize(("text", "field", "rule"), [
    ("{not json", "$", "valid JSON"),
    ("[1, 2]", "$", "JSON object"),
    ('{"node_id": "n"}', "event_type", "required"),
])
def test_unparseable_lines_name_the_rule(text: str, field: str, rule: str) -> None:
    with pytest.raises(EventValidationError) as info:
        _parse("f.jsonl line 7", text, None)
    assert info.value.field == field and info.value.rule == rule
    assert "line 7" in str(info.value)


def test_wrong_field_type_is_reported_with_its_path() -> None:
    body = event_to_json(sample_event("TaskSubmitted", i=0, seed=1))
    body["members"][0]["gpu_milli"] = "half"
    with pytest.raises(EventValidationError) as info:
        event_from_json("TaskSubmitted", body)
    assert info.value.field == "members[0].gpu_milli"


def test_invalid_batch_lists_every_problem() -> None:
    problems = [InvalidInput(f"line {i}", EventValidationError("tenant", "required", "give a tenant"))
                for i in range(3)]
    text = str(InvalidBatch(problems))
    assert "3 invalid event(s); nothing was published" in text
    assert all(f"line {i}: tenant" in text for i in range(3))
