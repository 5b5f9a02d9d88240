"""BACKWARD_TRANSITIVE: the current schemas read every released version; the checker catches each
kind of incompatible change with a message naming the field and the rule."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import fastavro
import pytest

from agentic.events import _generated as gen
from agentic.schemas import catalogue, release
from agentic.schemas.codec import validate
from agentic.schemas.compat import check_catalogue, check_event_type, check_pair, history_versions
from agentic.schemas.samples import sample_event

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "schema_samples"


def test_whole_catalogue_is_backward_transitive_and_released() -> None:
    assert [str(v) for v in check_catalogue()] == []
    assert release.pending() == []


def _sample_files() -> list[Path]:
    files = sorted(SAMPLES.glob("*.avro"))
    assert files, f"no samples in {SAMPLES}"
    return files


def test_every_released_version_has_samples() -> None:
    names = {p.name for p in _sample_files()}
    for et in catalogue.event_types():
        for v in history_versions(et):
            assert f"{et}.v{v}.avro" in names


def _expected(reader: dict[str, Any], written: dict[str, Any]) -> dict[str, Any]:
    """What resolution must give: the written value of every field both have, else the reader default."""
    out: dict[str, Any] = {}
    for f in reader["fields"]:
        if f["name"] in written:
            value = written[f["name"]]
            t = f["type"]
            if isinstance(t, dict) and t["type"] == "record" and isinstance(value, dict):
                value = _expected(t, value)
            out[f["name"]] = value
        else:
            out[f["name"]] = f["default"]
    return out


@pytest.mark.parametrize("path", _sample_files(), ids=lambda p: p.name)
def test_samples_decode_with_the_current_schema(path: Path) -> None:
    event_type, version = path.name.split(".")[0], int(path.name.split(".")[1][1:])
    current = catalogue.resolved_schema(event_type)
    reader_schema = fastavro.parse_schema(catalogue.stripped(current))
    with path.open("rb") as fo:
        written: list[Any] = list(fastavro.reader(fo))
    with path.open("rb") as fo:
        resolved: list[Any] = list(fastavro.reader(fo, reader_schema=reader_schema))
    assert len(resolved) == len(written) == release.SAMPLES_PER_VERSION
    for i, (w, r) in enumerate(zip(written, resolved, strict=True)):
        assert r == _expected(current, w)
        event = gen.DEC[event_type](r)
        validate(event)
        if version == history_versions(event_type)[-1]:
            assert event == sample_event(event_type, i)


# ---- the checker catches each kind of violation
def _base() -> dict[str, Any]:
    return dict(catalogue.resolved_schema("TaskSubmitted"))


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def _added_without_default(s: dict[str, Any]) -> None:
    s["fields"].append({"name": "deadline_ms", "type": "long", "doc": "x"})


def _type_changed(s: dict[str, Any]) -> None:
    _field(s, "priority")["type"] = "string"


def _enum_symbol_removed(s: dict[str, Any]) -> None:
    _field(s, "topology")["type"]["symbols"].remove("SAME_RACK")


def _union_branch_removed(s: dict[str, Any]) -> None:
    _field(s, "expected_duration_ms")["type"] = "long"
    _field(s, "expected_duration_ms").pop("default")


def _nested_type_changed(s: dict[str, Any]) -> None:
    member = _field(s, "members")["type"]["items"]
    _field(member, "gpu_milli")["type"] = "boolean"


def _renamed_record(s: dict[str, Any]) -> None:
    _field(s, "members")["type"]["items"]["name"] = "Member"


def _array_became_map(s: dict[str, Any]) -> None:
    _field(s, "gpu_models")["type"] = {"type": "map", "values": "string"}


@pytest.mark.parametrize(("mutate", "path", "rule"), [
    (_added_without_default, "deadline_ms", "field_added_without_default"),
    (_type_changed, "priority", "type_changed"),
    (_enum_symbol_removed, "topology", "enum_symbol_removed"),
    (_union_branch_removed, "expected_duration_ms", "union_branch_removed"),
    (_nested_type_changed, "members[].gpu_milli", "type_changed"),
    (_renamed_record, "members[]", "name_changed"),
    (_array_became_map, "gpu_models", "type_changed"),
])
def test_checker_catches_each_violation(mutate: Any, path: str, rule: str) -> None:
    reader = copy.deepcopy(_base())
    mutate(reader)
    found = check_event_type("TaskSubmitted", reader)
    incompatible = [v for v in found if v.rule != "unreleased"]
    assert [(v.path, v.rule) for v in incompatible] == [(path, rule)]
    message = str(incompatible[0])
    assert message.startswith(f"TaskSubmitted.{path}") and rule in message and "(writer v1)" in message


def test_branch_removed_from_a_wider_union() -> None:
    writer = copy.deepcopy(_base())
    _field(writer, "expected_duration_ms")["type"] = ["null", "long", "string"]
    found = check_pair("TaskSubmitted", _base(), writer, 1)
    assert [(v.path, v.rule) for v in found] == [("expected_duration_ms", "union_branch_removed")]
    assert "string" in str(found[0])


@pytest.mark.parametrize("mutate", [
    lambda s: s["fields"].append({"name": "deadline_ms", "type": ["null", "long"], "default": None}),
    lambda s: _field(s, "topology")["type"]["symbols"].append("SAME_ZONE"),
    lambda s: _field(s, "priority").update(type="long"),
    lambda s: _field(s, "priority").update(type="double"),
    lambda s: _field(s, "task_id").update(type=["null", "string"], default=None),
    lambda s: s["fields"].remove(_field(s, "gpu_models")),
])
def test_legal_changes_pass(mutate: Any) -> None:
    reader = copy.deepcopy(_base())
    mutate(reader)
    assert check_pair("TaskSubmitted", reader, _base(), 1) == []


def test_enum_default_allows_symbol_removal() -> None:
    reader = copy.deepcopy(_base())
    enum_t = _field(reader, "topology")["type"]
    enum_t["symbols"].remove("SAME_RACK")
    enum_t["default"] = "NONE"
    assert check_pair("TaskSubmitted", reader, _base(), 1) == []


def test_an_unreleased_change_is_reported() -> None:
    reader = copy.deepcopy(_base())
    reader["fields"].append({"name": "deadline_ms", "type": ["null", "long"], "default": None})
    found = check_event_type("TaskSubmitted", reader)
    assert [v.rule for v in found] == ["unreleased"]
    assert "v2" in found[0].detail


def test_named_types_are_resolved_by_reference() -> None:
    """A writer that defines GpuShare in a field the reader dropped and references it later by name."""
    share: dict[str, Any] = {"type": "record", "name": "Share", "fields": [{"name": "milli", "type": "int"}]}
    writer: dict[str, Any] = {"type": "record", "name": "X", "namespace": "agentic.events", "fields": [
        {"name": "old", "type": share}, {"name": "new", "type": {"type": "array", "items": "Share"}}]}
    reader: dict[str, Any] = {"type": "record", "name": "X", "namespace": "agentic.events", "fields": [
        {"name": "new", "type": {"type": "array", "items": {
            "type": "record", "name": "Share", "fields": [{"name": "milli", "type": "long"}]}}}]}
    assert check_pair("X", reader, writer, 1) == []
    narrowed = copy.deepcopy(reader)
    narrowed["fields"][0]["type"]["items"]["fields"][0]["type"] = "boolean"
    assert [(v.path, v.rule) for v in check_pair("X", narrowed, writer, 1)] == [("new[].milli", "type_changed")]
