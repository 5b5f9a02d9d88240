"""The registry adapter against the real schema registry started by the project's fixture."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from agentic.config import Settings
from agentic.connectors.registry import (
    RegistryError,
    RegistrySchemaIds,
    SchemaNotFoundError,
    SchemaRegistry,
    subject_for,
)
from agentic.schemas import DecodeError, EventCodec, catalogue
from agentic.schemas.samples import sample_events
from agentic.schemas.topics import TOPICS

pytestmark = pytest.mark.integration


@pytest.fixture
def registry(services: Settings) -> Iterator[SchemaRegistry]:
    with SchemaRegistry(services.registry_url) as reg:
        yield reg


def _fresh_subject(event_type: str) -> str:
    """A subject of its own per test (TopicRecordNameStrategy shape, made-up topic)."""
    return str(subject_for(f"test-{uuid.uuid4().hex[:10]}", event_type))


def test_register_all_sets_backward_transitive_and_is_idempotent(registry: SchemaRegistry) -> None:
    ids = RegistrySchemaIds(registry).register_all()
    assert set(ids) == set(catalogue.event_types())
    assert registry.get_compatibility() == "BACKWARD_TRANSITIVE"
    assert RegistrySchemaIds(registry).register_all() == ids  # same schemas -> same ids
    subjects = set(registry.subjects())
    for spec in TOPICS:
        for et in spec.event_types:
            assert subject_for(spec.name, et) in subjects
    assert subject_for("agentic.scheduling.inputs", "TaskSubmitted") == \
        "agentic.scheduling.inputs-agentic.events.TaskSubmitted"


def test_registered_schemas_read_back_as_the_catalogue(registry: SchemaRegistry) -> None:
    ids = RegistrySchemaIds(registry).register_all()
    for et, sid in ids.items():
        fetched = registry.get_schema(sid)
        assert catalogue.fingerprint_json(fetched) == catalogue.fingerprint_json(catalogue.resolved_schema(et)), et


def test_codec_round_trip_with_ids_fetched_from_the_registry(registry: SchemaRegistry) -> None:
    producer_ids = RegistrySchemaIds(registry)
    producer_ids.register_all()
    encoded = [EventCodec(producer_ids).encode(e) for e in sample_events(93)]
    consumer = EventCodec(RegistrySchemaIds(registry))  # empty cache: every writer schema is fetched by id
    assert consumer.decode_many(encoded) == sample_events(93)


def test_unknown_schema_id(registry: SchemaRegistry) -> None:
    with pytest.raises(SchemaNotFoundError):
        registry.get_schema(2_000_000_000)
    codec = EventCodec(RegistrySchemaIds(registry))
    with pytest.raises(DecodeError) as info:
        codec.decode(b"\x00" + (2_000_000_000).to_bytes(4, "big") + b"\x00")
    assert info.value.reason == "unknown_schema_id"


def _with_field(schema: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(schema)
    out["fields"].append(field)
    return out


def test_incompatible_change_is_refused_with_field_and_rule(registry: SchemaRegistry) -> None:
    subject = _fresh_subject("TaskSubmitted")
    v1 = catalogue.resolved_schema("TaskSubmitted")
    first = registry.register(subject, v1)
    registry.set_compatibility("BACKWARD_TRANSITIVE", subject)
    assert registry.get_compatibility(subject) == "BACKWARD_TRANSITIVE"

    breaking = _with_field(v1, {"name": "deadline_ms", "type": "long", "doc": "Deadline, ms."})
    messages = registry.check_compatibility(subject, breaking)
    assert any("deadline_ms" in m and "field_added_without_default" in m for m in messages), messages
    with pytest.raises(RegistryError) as info:
        registry.register(subject, breaking)
    assert info.value.status == 409 and "deadline_ms" in str(info.value)

    compatible = _with_field(v1, {"name": "deadline_ms", "type": ["null", "long"], "default": None, "doc": "ms"})
    assert registry.check_compatibility(subject, compatible) == []
    second = registry.register(subject, compatible)
    assert second != first
    assert registry.versions(subject) == [1, 2]


def test_unreachable_registry_names_the_call() -> None:
    with (SchemaRegistry("http://127.0.0.1:9/apis/ccompat/v7", timeout_s=2) as dead,
          pytest.raises(RegistryError, match=r"get_schema failed \(unreachable\)") as info):
        dead.get_schema(1)
    assert info.value.status == 0
