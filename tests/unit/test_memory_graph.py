"""The fact graph: fold of TripleAsserted events (validity closing, deletes) and neighbours by depth."""

from __future__ import annotations

from agentic import events as ev
from agentic.memory.graph import neighbors, triples


def env(n: int, kind: str, tenant: str = "acme") -> ev.Envelope:
    return ev.Envelope(event_id=f"e{n}", event_type=kind, occurred_at=n, tenant=tenant, source="t",
                       correlation_id="c")


def fact(n: int, tid: str, s: str, p: str, o: str, start: int, end: int | None = None,
         memory: str = "m", tenant: str = "acme") -> ev.TripleAsserted:
    return ev.TripleAsserted(envelope=env(n, "TripleAsserted", tenant), triple_id=tid, subject=s, predicate=p,
                             object=o, confidence=0.9, valid_from_ms=start, valid_to_ms=end,
                             source_memory_id=memory)


LOG = [
    fact(1, "t1", "Alice", "lives_in", "Paris", 10, memory="m1"),
    fact(2, "t2", "Alice", "works_at", "Acme", 20, memory="m2"),
    fact(3, "t3", "Acme", "based_in", "Berlin", 30, memory="m3"),
    fact(4, "t1", "Alice", "lives_in", "Paris", 10, 50, memory="m1"),  # closed by the next one
    fact(5, "t4", "Alice", "lives_in", "Rome", 50, memory="m4"),
    fact(6, "t9", "Alice", "likes", "tea", 5, tenant="other"),
    ev.MemoryDeleted(envelope=env(7, "MemoryDeleted"), scope=ev.DeleteScope.MEMORY, memory_id="m3",
                     reason="r", requested_by="u"),
]


def test_fold_keeps_latest_version_drops_deleted_and_other_tenants() -> None:
    facts = triples(LOG, "acme")
    assert sorted((f.object, f.valid_to_ms) for f in facts) == [("Acme", None), ("Paris", 50), ("Rome", None)]


def test_neighbors_by_depth_and_time() -> None:
    facts = triples(LOG[:5], "acme")
    one = neighbors(facts, "alice", 1)
    assert {(e.predicate, e.object) for e in one} == {("lives_in", "Paris"), ("works_at", "Acme"),
                                                       ("lives_in", "Rome")}
    two = neighbors(facts, "Alice", 2)
    assert [(e.object, e.depth) for e in two if e.depth == 2] == [("Berlin", 2)]
    assert {e.object for e in neighbors(facts, "Alice", 1, at=60)} == {"Acme", "Rome"}
    assert {e.object for e in neighbors(facts, "Alice", 1, at=15)} == {"Paris"}
