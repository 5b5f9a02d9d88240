"""The direct gRPC encoding of memory records (what the store sends to Weaviate's BatchObjects)."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from agentic.connectors.stemming import day_words, keyword_text, stem_text
from agentic.connectors.weaviate import (
    BatchWriter,
    MemoryRecord,
    MemoryStoreError,
    _grpc_object,
    _props,
    memory_uuid,
)


def record(**kw: object) -> MemoryRecord:
    base: dict[str, object] = dict(
        tenant="acme", memory_id="m1", agent_id="bot", session_id="s1", memory_type="EPISODIC",
        content="Alice adopted two cats", vector=(0.6, 0.8, 0.0), created_at=1_700_000_000_123,
        importance=0.5, source_memory_ids=("m1", "m0"), metadata={"speaker": "Alice"})
    base.update(kw)
    return MemoryRecord(**base)


def test_content_stem_holds_the_context_after_the_content() -> None:
    fields = _grpc_object("AgenticMemory", "acme", record(context="Bob: Did you adopt pets?")).properties
    stem_field = fields.non_ref_properties.fields["content_stem"].string_value
    day = day_words(1_700_000_000_123)  # the record's created_at: 14 November 2023
    assert stem_field == f"{stem_text('Alice adopted two cats')} {stem_text('Bob: Did you adopt pets?')} {day}"
    assert fields.non_ref_properties.fields["content"].string_value == "Alice adopted two cats"  # returned as is


def test_every_property_of_props_is_encoded_with_its_value() -> None:
    r = record(expires_at=1_700_000_100_000, source_refs=("doc:1",))
    obj = _grpc_object("AgenticMemory", "acme", r)
    fields = obj.properties.non_ref_properties.fields
    assert fields["content"].string_value == "Alice adopted two cats"
    assert fields["content_stem"].string_value == keyword_text("Alice adopted two cats", "", 1_700_000_000_123)
    assert fields["created_at"].number_value == 1_700_000_000_123  # exact in a double
    assert fields["expires_at"].number_value == 1_700_000_100_000
    assert fields["importance"].number_value == 0.5
    assert fields["metadata_json"].string_value == '{"speaker": "Alice"}'
    arrays = {a.prop_name: list(a.values) for a in obj.properties.text_array_properties}
    assert arrays == {"source_memory_ids": ["m1", "m0"], "source_refs": ["doc:1"]}
    assert sorted(obj.properties.empty_list_props) == ["context_ids", "source_event_ids"]
    assert set(fields) | set(arrays) | set(obj.properties.empty_list_props) == set(_props(r))


def test_object_carries_collection_tenant_deterministic_uuid_and_float32_vector() -> None:
    obj = _grpc_object("AgenticMemory_v2", "h-abc", record())
    assert (obj.collection, obj.tenant) == ("AgenticMemory_v2", "h-abc")
    assert obj.uuid == memory_uuid("acme", "m1")
    assert np.frombuffer(obj.vector_bytes, dtype="<f4").tolist() == [np.float32(0.6), np.float32(0.8), 0.0]


def test_missing_expiry_is_sent_as_null_and_own_id_stands_in_for_empty_provenance() -> None:
    obj = _grpc_object("C", "acme", record(source_memory_ids=()))
    fields = obj.properties.non_ref_properties.fields
    assert fields["expires_at"].WhichOneof("kind") == "null_value"
    arrays = {a.prop_name: list(a.values) for a in obj.properties.text_array_properties}
    assert arrays["source_memory_ids"] == ["m1"]  # deletes and lookups filter on this list


def test_batch_writer_names_the_address_when_weaviate_is_unreachable() -> None:
    with socket.socket() as s:  # a local port with nothing listening on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    writer = BatchWriter(f"127.0.0.1:{port}")
    try:
        assert writer.write([]) == {}  # nothing to send: no call at all
        with pytest.raises(MemoryStoreError, match=f"127.0.0.1:{port}.*UNAVAILABLE"):
            writer.write([_grpc_object("C", "acme", record())], timeout=5.0)
    finally:
        writer.close()
