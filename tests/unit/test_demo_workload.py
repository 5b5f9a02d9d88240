"""The demo's agent activity: seeded and deterministic, valid events, causal chains, a mix that exercises the
policy outcomes; and the node sample that makes the demo's queues wait."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from agentic import events as ev
from agentic.bench.openb import TraceNode, TracePod
from agentic.cli.demo_workload import MODELS, AgentConfig, agent_activity, model_catalogue, route, sample_nodes
from agentic.schemas.codec import EventCodec, StaticSchemaIds

END_MS = 1_800_000_000_000


def pods(n: int) -> list[TracePod]:
    return [TracePod(f"pod-{i:04d}", 4000, 8192, 1, 500, (), i * 60, i * 60 + 600 + (i % 7) * 300, i * 60)
            for i in range(n)]


def test_the_same_seed_gives_the_same_events_and_another_seed_other_ones() -> None:
    a = agent_activity("r1", pods(200), END_MS, config=AgentConfig(seed=1))
    assert a == agent_activity("r1", pods(200), END_MS, config=AgentConfig(seed=1))
    assert a != agent_activity("r1", pods(200), END_MS, config=AgentConfig(seed=2))


def test_every_event_is_valid_and_in_event_time_order_within_the_span() -> None:
    codec = EventCodec(StaticSchemaIds())
    events = agent_activity("r1", pods(300), END_MS)
    for e in events:
        assert codec.decode(codec.encode(e)) == e  # the catalogue's rules hold (encode validates)
    times = [e.envelope.occurred_at for e in events]
    assert times == sorted(times) and times[-1] <= END_MS
    assert len({e.envelope.event_id for e in events}) == len(events)


def test_each_call_is_requested_then_decided_then_completed_in_one_causal_chain() -> None:
    events = agent_activity("r1", pods(300), END_MS)
    by_id = {e.envelope.event_id: e for e in events}
    calls: dict[str, list[Any]] = {}
    for e in events:
        if type(e).__name__.startswith("ToolCall"):
            calls.setdefault(e.tool_call_id, []).append(e)
    assert calls
    for chain in calls.values():
        req, dec, done = chain
        assert (type(req), type(dec), type(done)) == (ev.ToolCallRequested, ev.ToolCallDecided, ev.ToolCallCompleted)
        assert dec.envelope.causation_id == req.envelope.event_id
        assert done.envelope.causation_id == dec.envelope.event_id
        assert (dec.decision is ev.PolicyDecision.DENY) <= (done.status is ev.ToolCallStatus.DENIED)
        assert req.envelope.correlation_id == done.envelope.correlation_id
    for m in (e for e in events if isinstance(e, ev.MemoryWritten)):
        source = by_id[m.source_refs[0]]
        assert isinstance(source, ev.ToolCallCompleted) and m.envelope.causation_id == source.envelope.event_id


def test_the_mix_has_every_policy_outcome_and_recalls_only_earlier_memories() -> None:
    events = agent_activity("r1", pods(1000), END_MS)
    decisions = Counter(e.decision for e in events if isinstance(e, ev.ToolCallDecided))
    assert set(decisions) == set(ev.PolicyDecision)
    assert decisions[ev.PolicyDecision.ALLOW] > 0.8 * sum(decisions.values())
    written = {e.memory_id: e.envelope.occurred_at for e in events if isinstance(e, ev.MemoryWritten)}
    reads = [e for e in events if isinstance(e, ev.MemoryAccessed)]
    assert reads and all(written[r.memory_id] < r.envelope.occurred_at for r in reads)


def test_task_share_controls_how_many_tasks_have_an_agent() -> None:
    assert agent_activity("r1", pods(100), END_MS, config=AgentConfig(task_share=0.0)) == []
    sessions = {e.session_id for e in agent_activity("r1", pods(400), END_MS, config=AgentConfig(task_share=0.5))
                if isinstance(e, ev.ToolCallRequested)}
    assert 150 < len(sessions) < 250


def test_sample_nodes_keeps_every_kth_node_and_rejects_a_bad_share() -> None:
    nodes = [TraceNode(f"n{i}", 1000, 1000, 8, "V100M16") for i in range(80)]
    assert [n.name for n in sample_nodes(nodes, 0.125)] == [f"n{i}" for i in range(0, 80, 8)]
    assert sample_nodes(nodes, 1.0) == nodes
    with pytest.raises(ValueError, match="share=0"):
        sample_nodes(nodes, 0)



def test_routing_picks_the_cheapest_model_that_is_good_enough_and_fits() -> None:
    small, large, frontier = MODELS
    model, cands, _ = route(MODELS, 1_000, 200, need=0.5)
    assert model is small and [c.model_id for c in cands] == [m.model_id for m in MODELS]
    assert all(c.eligible and c.excluded_by is None for c in cands)
    assert route(MODELS, 1_000, 200, need=0.75)[0] is large  # the small one is below the need
    model, cands, _ = route(MODELS, 1_000, 200, need=0.85)
    assert model is frontier and [c.excluded_by for c in cands] == ["quality", "quality", None]
    model, cands, _ = route(MODELS, 40_000, 200, need=0.5)  # over the small model's 32k context
    assert model is large and cands[0].excluded_by == "context_window" and cands[0].score == 0.0
    model, _, reason = route(MODELS, 1_000, 200, need=0.99)
    assert model is frontier and "no model meets" in reason


def test_each_step_is_a_routed_model_call_then_the_tool_call_it_asked_for() -> None:
    events = agent_activity("r1", pods(300), END_MS)
    by_id = {e.envelope.event_id: e for e in events}
    prices = {m.model_id: m for m in MODELS}
    routes = {e.request_id: e for e in events if isinstance(e, ev.RouteDecided)}
    calls = [e for e in events if isinstance(e, ev.ModelCallCompleted)]
    assert calls and len(calls) == len(routes)
    for c in calls:
        r = routes[c.request_id]
        assert c.envelope.causation_id == r.envelope.event_id and c.model_id == r.model_id
        m = prices[c.model_id]
        expected = (c.input_tokens * m.input_price + c.output_tokens * m.output_price) // 1_000_000
        assert c.cost_usd_micros == (expected if c.status is ev.ModelCallStatus.SUCCEEDED else 0)
    for req in (e for e in events if isinstance(e, ev.ToolCallRequested)):
        cause = by_id[req.envelope.causation_id]
        assert isinstance(cause, ev.ModelCallCompleted) and cause.status is ev.ModelCallStatus.SUCCEEDED
    assert {c.model_id for c in calls} == set(prices)  # the mix reaches every model
    assert {c.status for c in calls} >= {ev.ModelCallStatus.SUCCEEDED, ev.ModelCallStatus.RATE_LIMITED}


def test_the_model_catalogue_registers_every_model_with_its_prices() -> None:
    regs = model_catalogue("r1", END_MS)
    codec = EventCodec(StaticSchemaIds())
    assert [r.model_id for r in regs] == [m.model_id for m in MODELS]
    assert all(codec.decode(codec.encode(r)) == r for r in regs)
    assert [r.output_cost_usd_micros_per_mtok for r in regs] == [m.output_price for m in MODELS]
