"""The consolidation processor over the real Kafka, schema registry and Weaviate: events in, searchable
memories and derived events out; a delete event removes the memory; a replay from offset 0 under a
new consumer group rebuilds the same read model."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from agentic import events as ev
from agentic import wiring
from agentic.config import Settings
from agentic.connectors.embeddings import WordLlamaEmbedder
from agentic.connectors.kafka import EventConsumer
from agentic.connectors.weaviate import SearchQuery, WeaviateMemoryStore
from agentic.projections.weaviate.memory import MemoryProjection
from agentic.schemas.topics import MEMORY
from agentic.streams.memory.processor import MemoryProcessor

pytestmark = pytest.mark.integration


@pytest.fixture()
def store(services: Settings) -> Iterator[WeaviateMemoryStore]:
    s = WeaviateMemoryStore.connect(services, dim=256, alias="ProcMemory" + uuid.uuid4().hex[:8])
    s.ensure_schema()
    try:
        yield s
    finally:
        s.drop_all()
        s.close()


def _envelope(tenant: str, kind: str, at: int) -> ev.Envelope:
    eid = str(uuid.uuid4())
    return ev.Envelope(event_id=eid, event_type=kind, occurred_at=at, tenant=tenant, source="test",
                       correlation_id=eid)


def _written(tenant: str, memory_id: str, content: str, at: int) -> ev.MemoryWritten:
    return ev.MemoryWritten(envelope=_envelope(tenant, "MemoryWritten", at), memory_id=memory_id, agent_id="a",
                            session_id="s1", memory_type=ev.MemoryType.EPISODIC, content=content, metadata={},
                            source_refs=())


def _process(services: Settings, store: WeaviateMemoryStore, embedder: WordLlamaEmbedder) -> MemoryProcessor:
    codec = wiring.codec(services)
    consumer = EventConsumer(services.kafka_bootstrap, f"test-memory-{uuid.uuid4()}", [MEMORY.name], codec, None)
    try:
        processor = MemoryProcessor(consumer, wiring.producer(services, codec), embedder, MemoryProjection(store))
        processor.run(stop=lambda: False, idle_timeout=5.0)
        return processor
    finally:
        consumer.close()


def test_events_become_searchable_deletes_delete_and_replay_rebuilds(services: Settings,
                                                                      store: WeaviateMemoryStore) -> None:
    tenant = f"proc-{uuid.uuid4().hex[:8]}"
    embedder = WordLlamaEmbedder()
    producer = wiring.producer(services, wiring.codec(services))
    producer.publish_many([_written(tenant, "m1", "Dana is allergic to shellfish", 1000),
                           _written(tenant, "m2", "dana is allergic to shellfish", 2000),
                           _written(tenant, "m3", "The team offsite is in Lisbon in May", 3000)])
    producer.flush()
    _process(services, store, embedder)
    vector = tuple(float(x) for x in embedder.embed(["what is Dana allergic to"])[0])
    hits = store.search(SearchQuery(tenant, "what is Dana allergic to", vector, k=5))
    assert hits[0].memory_id == "m1" and set(hits[0].source_memory_ids) == {"m1", "m2"}
    assert store.count(tenant) == 2

    producer.publish(ev.MemoryDeleted(envelope=_envelope(tenant, "MemoryDeleted", 4000),
                                      scope=ev.DeleteScope.MEMORY, memory_id="m2", reason="user request",
                                      requested_by="test"))
    producer.flush()
    _process(services, store, embedder)  # a fresh group: a full replay of the topic, delete included
    assert store.count(tenant) == 1
    hits = store.search(SearchQuery(tenant, "Dana allergic shellfish", vector, k=5))
    assert all("m1" not in h.source_memory_ids for h in hits)  # the merged memory went with m2


def test_sdk_write_wait_returns_once_searchable(services: Settings, store: WeaviateMemoryStore) -> None:
    import threading

    from agentic.memory import MemoryInputError
    from agentic.memory.client import MemoryClient
    from agentic.sdk import AgenticClient

    embedder = WordLlamaEmbedder()
    codec = wiring.codec(services)
    consumer = EventConsumer(services.kafka_bootstrap, f"test-memory-{uuid.uuid4()}", [MEMORY.name], codec, None)
    processor = MemoryProcessor(consumer, wiring.producer(services, codec), embedder, MemoryProjection(store))
    stop = threading.Event()
    worker = threading.Thread(target=processor.run, args=(stop.is_set,), daemon=True)
    worker.start()
    try:
        client = MemoryClient(AgenticClient.connect(services), store)
        tenant = f"sdk-{uuid.uuid4().hex[:8]}"
        ids = client.write([{"tenant": tenant, "memory_id": "w1", "content": "Omar's flight lands at 9pm Friday"}],
                           wait=True, timeout=60)
        vector = tuple(float(x) for x in embedder.embed(["when does Omar land"])[0])
        assert ids == ["w1"]
        assert [h.memory_id for h in store.search(SearchQuery(tenant, "when does Omar land", vector, k=3))] == ["w1"]
        with pytest.raises(MemoryInputError, match="line 1: embedding"):
            client.write([{"tenant": tenant, "content": "x", "embedding": [0.1, 0.2]}])
    finally:
        stop.set()
        worker.join(timeout=30)
        consumer.close()
