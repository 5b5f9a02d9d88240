"""Memory events <-> core commands/outputs: the processor shell's pure mapping."""

from __future__ import annotations

from agentic import events as ev
from agentic.schemas.codec import event_from_json, event_to_json
from agentic.streams.memory import MemoryState, apply
from agentic.streams.memory.events import command_of, events_of


def envelope(n: int, kind: str, at: int) -> ev.Envelope:
    return ev.Envelope(event_id=f"00000000-0000-0000-0000-{n:012d}", event_type=kind, occurred_at=at,
                       tenant="acme", source="test", correlation_id="corr-1")


def written(n: int, content: str, at: int, **kw: object) -> ev.MemoryWritten:
    fields: dict[str, object] = dict(envelope=envelope(n, "MemoryWritten", at), memory_id=f"m{n}", agent_id="a",
                                     session_id="s1", memory_type=ev.MemoryType.SEMANTIC, content=content,
                                     metadata={}, source_refs=(), embedding=(1.0, 0.0, 0.0))
    fields.update(kw)
    return ev.MemoryWritten(**fields)  # type: ignore[arg-type]


def run(events: list[ev.MemoryWritten]) -> list[object]:
    state, published = MemoryState(), []
    for e in events:
        cmd = command_of(e)
        assert cmd is not None
        state, out = apply(state, cmd)
        published += events_of(out, e.envelope)
    return published


def test_duplicate_publishes_a_consolidation_with_provenance_that_round_trips_json() -> None:
    published = run([written(1, "Alice likes tea", 1000), written(2, "alice likes tea", 2000)])
    (merged,) = [p for p in published if isinstance(p, ev.MemoryConsolidated)]
    assert merged.source_ids == ("m1", "m2") and merged.method == ev.ConsolidationMethod.EXACT_DUPLICATE
    assert merged.envelope.causation_id == "00000000-0000-0000-0000-000000000002"
    assert event_from_json("MemoryConsolidated", event_to_json(merged)) == merged


def test_contradicting_fact_publishes_closed_and_new_triples_deterministically() -> None:
    facts = [written(1, "Alice lives in Paris", 1000,
                     metadata={"subject": "Alice", "predicate": "lives_in", "object": "Paris"}),
             written(2, "Alice lives in Berlin", 5000, embedding=(0.0, 1.0, 0.0),
                     metadata={"subject": "Alice", "predicate": "lives_in", "object": "Berlin"})]
    first, second = run(facts), run(facts)
    assert first == second  # same log, same published events (ids included)
    triples = [p for p in first if isinstance(p, ev.TripleAsserted)]
    assert [(t.object, t.valid_to_ms) for t in triples] == [("Paris", None), ("Paris", 5000), ("Berlin", None)]
    assert triples[2].supersedes_triple_id == triples[1].triple_id == triples[0].triple_id
    assert all(event_from_json("TripleAsserted", event_to_json(t)) == t for t in triples)


def test_delete_event_maps_to_a_tombstone_command() -> None:
    deleted = ev.MemoryDeleted(envelope=envelope(9, "MemoryDeleted", 3000), scope=ev.DeleteScope.SESSION,
                               session_id="s1", reason="user request", requested_by="u1")
    cmd = command_of(deleted)
    assert cmd is not None and (cmd.scope, cmd.target) == ("SESSION", "s1")
