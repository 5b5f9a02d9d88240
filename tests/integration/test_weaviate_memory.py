"""The memory store and service against the real Weaviate started by the project's fixture.

Covers: schema versions behind an alias (and the swap), deterministic ids (a replay overwrites),
tenant isolation under queries, filters and crafted tenant names, deletes that really delete,
filters on session, type and time, provenance in hits, and bad input refused with nothing written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from agentic.config import Settings
from agentic.connectors.embeddings import HashingEmbedder, WordLlamaEmbedder
from agentic.connectors.weaviate import (
    SCHEMA_VERSION,
    MemoryRecord,
    MemoryStoreError,
    SearchQuery,
    WeaviateMemoryStore,
    weaviate_tenant,
)
from agentic.memory import MemoryInputError, MemoryService
from agentic.streams.memory import DeleteMemory, DeleteScope, MemoryState, apply

pytestmark = pytest.mark.integration


@pytest.fixture()
def store(services: Settings) -> Iterator[WeaviateMemoryStore]:
    alias = "TestMemory" + uuid.uuid4().hex[:8]
    s = WeaviateMemoryStore.connect(services, dim=256, alias=alias)
    s.ensure_schema()
    try:
        yield s
    finally:
        s.drop_all()
        s.close()


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


@pytest.fixture()
def service(store: WeaviateMemoryStore, embedder: WordLlamaEmbedder) -> MemoryService:
    return MemoryService(embedder, store)


def line(tenant: str, memory_id: str, content: str, **kw: Any) -> dict[str, Any]:
    return {"tenant": tenant, "memory_id": memory_id, "content": content, "session_id": "s1",
            "occurred_at": 1_700_000_000_000, **kw}


def test_write_then_search_returns_memory_with_score_and_provenance(service: MemoryService) -> None:
    report = service.write([line("acme", "m1", "Alice is allergic to peanuts"),
                            line("acme", "m2", "The quarterly report is due on Friday")])
    assert report.ok and report.stored == 2
    for mode in ("hybrid", "vector", "keyword"):
        hits = service.search("acme", "which food must Alice avoid peanuts", k=1, mode=mode)
        assert [h.memory_id for h in hits] == ["m1"], mode
        assert hits[0].score > 0 and hits[0].source_event_ids and hits[0].source_memory_ids == ("m1",)


def test_replay_overwrites_instead_of_duplicating(service: MemoryService, store: WeaviateMemoryStore) -> None:
    batch = [line("acme", f"m{i}", f"note number {i} about the garden") for i in range(20)]
    service.write(batch)
    MemoryService(service.embedder, store).write(batch)  # a fresh core: a replay from scratch
    assert store.count("acme") == 20


def test_exact_and_near_duplicates_are_merged_with_provenance(service: MemoryService) -> None:
    report = service.write([line("acme", "a", "Bob prefers green tea in the morning"),
                            line("acme", "b", "bob prefers green tea in the morning"),
                            line("acme", "c", "Bob prefers green tea in the morning.")])
    assert report.merged == 2
    (hit,) = service.search("acme", "what does Bob drink", k=5)
    assert set(hit.source_memory_ids) == {"a", "b", "c"} and len(hit.source_event_ids) == 3


def test_tenant_isolation_under_queries_filters_and_crafted_names(service: MemoryService,
                                                                  store: WeaviateMemoryStore) -> None:
    service.write([line("tenant-a", "secret", "the vault code of tenant A is 4711")])
    service.write([line("tenant-b", "other", "tenant B likes hiking")])
    crafted = ["tenant-b", "tenant-A", "tenant-a ", "tenant-a\x00", "*", "tenant-a' OR '1'='1", "h-tenant-a"]
    for tenant in crafted:
        for mode in ("hybrid", "vector", "keyword"):
            hits = service.search(tenant, "vault code of tenant A 4711", k=25, mode=mode)
            assert all(h.memory_id != "secret" for h in hits), (tenant, mode)
    hits = service.search("tenant-b", "vault code 4711", k=25, session="s1")
    assert all(h.memory_id != "secret" for h in hits)
    assert weaviate_tenant("tenant a") != weaviate_tenant("tenant_a")
    with pytest.raises(MemoryInputError, match="tenant"):
        service.search(None, "vault code")
    with pytest.raises(MemoryInputError, match="tenant"):
        service.search("", "vault code")


def ids(hits: Sequence[Any]) -> list[str]:
    return sorted(h.memory_id for h in hits)


def test_filters_on_session_type_and_time(service: MemoryService) -> None:
    service.write([
        line("acme", "early", "meeting notes about the launch", session_id="s1", occurred_at=1000,
             memory_type="EPISODIC"),
        line("acme", "late", "meeting notes about the budget", session_id="s2", occurred_at=5000,
             memory_type="SEMANTIC"),
    ])
    assert ids(service.search("acme", "meeting notes", session="s2")) == ["late"]
    assert ids(service.search("acme", "meeting notes", types=["episodic"])) == ["early"]
    assert ids(service.search("acme", "meeting notes", since=2000)) == ["late"]
    assert ids(service.search("acme", "meeting notes", until=2000)) == ["early"]


def test_delete_really_deletes_by_id_session_and_tenant(service: MemoryService,
                                                        store: WeaviateMemoryStore) -> None:
    service.write([line("acme", "m1", "first memory about cats"),
                   line("acme", "m2", "second memory about dogs", session_id="s2"),
                   line("acme", "m3", "third memory about birds", session_id="s2")])
    projection = service._projection  # the same projection the service writes through
    state = MemoryState()
    for cmd in service.prepare([line("acme", "m1", "first memory about cats"),
                                line("acme", "m2", "second memory about dogs", session_id="s2"),
                                line("acme", "m3", "third memory about birds", session_id="s2")]):
        state, _ = apply(state, cmd)
    state, out = apply(state, DeleteMemory("d1", 2_000_000_000_000, "acme", DeleteScope.MEMORY, "m1"))
    assert projection.apply_outputs(out).commit
    assert all(h.memory_id != "m1" for h in service.search("acme", "first memory about cats", k=10))
    state, out = apply(state, DeleteMemory("d2", 2_000_000_000_001, "acme", DeleteScope.SESSION, "s2"))
    assert projection.apply_outputs(out).commit and store.count("acme") == 0
    service.write([line("acme", "m9", "a later memory", occurred_at=2_000_000_000_002)])
    state, out = apply(state, DeleteMemory("d3", 2_000_000_000_003, "acme", DeleteScope.TENANT))
    assert projection.apply_outputs(out).commit
    assert service.search("acme", "a later memory", k=10) == []


def test_bad_input_is_refused_and_nothing_is_written(service: MemoryService, store: WeaviateMemoryStore) -> None:
    good = line("acme", "ok", "a valid memory")
    cases: list[tuple[dict[str, Any], str]] = [
        (line("acme", "x", "   "), "content"),
        (line("acme", "x", "text", memory_type="DREAM"), "memory_type"),
        (line("acme", "x", "text", embedding=[0.1, 0.2, 0.3]), "embedding"),
        ({"content": "no tenant"}, "tenant"),
    ]
    for bad, field in cases:
        with pytest.raises(MemoryInputError, match=rf"line 2: {field}"):
            service.write([good, bad])
    assert store.count("acme") == 0
    with pytest.raises(MemoryStoreError, match="embedding"):
        store.upsert([MemoryRecord("acme", "v", "a", "s", "EPISODIC", "text", (1.0,) * 3, 0, 0.5)])


def test_alias_swap_moves_readers_to_a_new_version(store: WeaviateMemoryStore) -> None:
    emb = HashingEmbedder(256)
    vec = tuple(float(x) for x in emb.embed(["hello world"])[0])
    v1 = store.current_target()
    assert store.upsert([MemoryRecord("acme", "old", "a", "s", "EPISODIC", "hello world", vec, 1, 0.5)]).ok
    v2 = store.create_version(SCHEMA_VERSION + 1)
    assert store.upsert([MemoryRecord("acme", "new", "a", "s", "EPISODIC", "hello world", vec, 1, 0.5)],
                        target=v2).ok
    query = SearchQuery("acme", "hello", vec, k=5)
    assert [h.memory_id for h in store.search(query)] == ["old"]
    store.swap_alias(v2)
    assert store.current_target() == v2 != v1
    assert [h.memory_id for h in store.search(query)] == ["new"]


def test_chain_returns_a_session_in_time_order(service: MemoryService, store: WeaviateMemoryStore) -> None:
    service.write([line("acme", "c", "third thing", occurred_at=3000),
                   line("acme", "a", "first thing", occurred_at=1000),
                   line("acme", "b", "second thing", occurred_at=2000),
                   line("acme", "x", "other session", occurred_at=1500, session_id="s9"),
                   line("other", "y", "other tenant", occurred_at=500)])
    assert [h.memory_id for h in store.chain("acme", "s1")] == ["a", "b", "c"]


def test_service_delete_then_replayed_write_stays_deleted(service: MemoryService, store: WeaviateMemoryStore) -> None:
    original = line("acme", "gone", "the locker code is 2468", occurred_at=1000)
    service.write([original, line("acme", "kept", "the weather was nice", occurred_at=1100)])
    service.delete("acme", memory_id="gone", at=2000)
    report = service.write([original])  # the same write delivered again after the delete
    assert report.rejected and report.rejected[0][:2] == ("gone", "memory_id")
    assert [h.memory_id for h in service.search("acme", "locker code 2468", k=10)] == ["kept"]
    with pytest.raises(MemoryInputError, match="exactly one"):
        service.delete("acme")


def test_written_memories_are_vector_searchable_when_write_returns(service: MemoryService,
                                                                   store: WeaviateMemoryStore) -> None:
    """``write`` returns only once the vector index holds the batch (the stack runs ASYNC_INDEXING,
    under which an acknowledged object is invisible to vector search until it is indexed)."""
    lines = [line("acme", f"bulk-{i}", f"Note {i}: the shipment {i * 7919 % 10007} left dock {i % 13}")
             for i in range(3000)]
    report = service.write_batches([lines[i:i + 1000] for i in range(0, 3000, 1000)])
    assert report.ok and report.stored == 3000
    assert store.index_queue(["acme"]) == 0
    for i in range(2990, 3000):
        hits = service.search("acme", lines[i]["content"], k=1, mode="vector")
        assert [h.memory_id for h in hits] == [f"bulk-{i}"]


def test_a_deleted_memory_is_not_findable_through_its_neighbours_context(
        service: MemoryService, store: WeaviateMemoryStore, embedder: WordLlamaEmbedder) -> None:
    """Each memory's keyword side holds the two before it in its session; a delete must take the deleted
    words out of those neighbours too, even when the deleting process never saw the writes."""
    service.write([line("acme", "q", "Ann: what is the vault code?", occurred_at=1000),
                   line("acme", "secret", "Bo: it is zebra 4711", occurred_at=2000),
                   line("acme", "after", "Ann: thanks, noted", occurred_at=3000),
                   line("acme", "later", "Bo: see you tomorrow", occurred_at=4000)])
    keyword = {"mode": "keyword", "k": 10}
    assert set(ids(service.search("acme", "zebra 4711", **keyword))) == {"secret", "after", "later"}  # context
    fresh = MemoryService(embedder, store)  # another process: its core never saw the writes
    fresh.delete("acme", memory_id="secret", at=5000)
    assert ids(service.search("acme", "zebra 4711", **keyword)) == []
    assert ids(service.search("acme", "vault code", **keyword)) == ["after", "q"]  # the rest of the context stays
    assert ids(service.search("acme", "thanks", **keyword)) == ["after", "later"]
