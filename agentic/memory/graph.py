"""The knowledge graph of asserted facts: a pure fold of ``TripleAsserted`` events and a traversal.

A triple id re-asserted later (its validity closed) replaces the earlier version; a triple whose
source memory was deleted (a ``MemoryDeleted`` by memory id) disappears, as in the core.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agentic import events as ev


@dataclass(frozen=True, slots=True)
class Edge:
    subject: str
    predicate: str
    object: str
    valid_from: int
    valid_to: int | None
    confidence: float
    source_memory_id: str
    depth: int


def triples(events: Iterable[object], tenant: str) -> list[ev.TripleAsserted]:
    latest: dict[str, ev.TripleAsserted] = {}
    deleted: set[str] = set()
    for e in events:
        if isinstance(e, ev.TripleAsserted) and e.envelope.tenant == tenant:
            latest[e.triple_id] = e
        elif isinstance(e, ev.MemoryDeleted) and e.envelope.tenant == tenant and e.memory_id:
            deleted.add(e.memory_id)
    return [t for _, t in sorted(latest.items()) if t.source_memory_id not in deleted]


def neighbors(facts: Iterable[ev.TripleAsserted], entity: str, depth: int = 1,
              at: int | None = None) -> list[Edge]:
    """Edges reachable from ``entity`` within ``depth`` hops (either direction), breadth first.

    With ``at`` (ms), only facts valid at that time; otherwise every fact, closed ones included.
    """
    if depth < 1:
        raise ValueError(f"depth: must be at least 1, got {depth}")
    live = [f for f in facts if at is None or (f.valid_from_ms <= at and (f.valid_to_ms is None or at < f.valid_to_ms))]
    seen, frontier, out = {entity.lower()}, {entity.lower()}, []
    for level in range(1, depth + 1):
        nxt: set[str] = set()
        for f in live:
            s, o = f.subject.lower(), f.object.lower()
            if s in frontier or o in frontier:
                out.append(Edge(f.subject, f.predicate, f.object, f.valid_from_ms, f.valid_to_ms, f.confidence,
                                f.source_memory_id, level))
                nxt |= {s, o} - seen
        seen |= nxt
        frontier = nxt
    unique: dict[tuple[str, str, str, int], Edge] = {}
    for e in out:
        unique.setdefault((e.subject, e.predicate, e.object, e.valid_from), e)  # the shallowest hop wins
    return sorted(unique.values(), key=lambda e: (e.depth, e.subject, e.predicate, e.valid_from, e.object))
