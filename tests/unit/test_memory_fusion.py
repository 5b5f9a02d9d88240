"""Relative-score fusion of the vector and BM25 result lists (pure)."""

from __future__ import annotations

from agentic.connectors.weaviate import SearchHit, fuse


def hit(memory_id: str, score: float) -> SearchHit:
    return SearchHit(memory_id, "text", score, "s", "a", "EPISODIC", 0, 0.5, (memory_id,), (), (), {})


def test_fusion_scales_each_side_and_weights_by_alpha() -> None:
    vector = [hit("a", 0.9), hit("b", 0.7), hit("c", 0.5)]
    keyword = [hit("c", 12.0), hit("d", 3.0)]
    assert [h.memory_id for h in fuse(vector, keyword, 1.0, 10)] == ["a", "b", "c", "d"]
    assert [h.memory_id for h in fuse(vector, keyword, 0.0, 10)][:1] == ["c"]
    mixed = fuse(vector, keyword, 0.5, 2)
    assert [h.memory_id for h in mixed] == ["a", "c"] and mixed[0].score == 0.5 and mixed[1].score == 0.5


def test_fusion_handles_an_empty_side_and_is_deterministic_on_ties() -> None:
    only = fuse([], [hit("y", 2.0), hit("x", 2.0)], 0.75, 5)
    assert [h.memory_id for h in only] == ["x", "y"] and only[0].score == 0.25
