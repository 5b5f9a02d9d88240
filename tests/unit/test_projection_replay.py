"""Replay's pure parts: point-in-time cutoffs, and recovery = latest checkpoint + tail (scheduler processor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentic.cli.demo_workload import load_nodes, load_pods, workload
from agentic.projections.clickhouse.rows import SourceRecord
from agentic.projections.replay import Cutoff
from agentic.schemas.codec import EventCodec, StaticSchemaIds
from agentic.streams.scheduler.processor import scheduler_processor
from agentic.streams.shell import Checkpoint, fold

OPENB = Path(__file__).resolve().parents[3] / "shared" / "data" / "openb"


def rec(offset: int, at: int) -> SourceRecord:
    env = {"event_id": "e", "event_type": "TaskFinished", "occurred_at": at, "tenant": "t", "source": "s",
           "correlation_id": "c", "causation_id": None}
    return SourceRecord("t", 0, offset, None, {"envelope": env, "task_id": "x", "outcome": "SUCCEEDED"})


def test_cutoff_keeps_events_up_to_a_time_or_an_offset() -> None:
    assert Cutoff(time_ms=100).keeps(rec(5, 100)) and not Cutoff(time_ms=100).keeps(rec(5, 101))
    assert Cutoff(offset=5).keeps(rec(5, 999)) and not Cutoff(offset=5).keeps(rec(6, 0))
    assert not Cutoff(time_ms=100).keeps(SourceRecord("t", 0, 1, None, None, "undecodable"))


@pytest.mark.skipif(not OPENB.exists(), reason=f"the OpenB trace is not at {OPENB}")
def test_latest_checkpoint_plus_tail_equals_a_full_replay_byte_for_byte() -> None:
    events = workload("cp", load_nodes(OPENB / "openb_node_list_gpu_node.csv")[:120],
                      load_pods(OPENB / "openb_pod_list_default.csv")[:600], end_ms=10_000_000)
    codec = EventCodec(StaticSchemaIds())
    full_state, full_out = fold(scheduler_processor(), events)
    assert len(full_out) >= 600  # every task got a decision
    for split in (1, len(events) // 3, len(events) - 5):
        p = scheduler_processor()
        head_state, head_out = fold(p, events[:split])
        cp = Checkpoint(p.name, p.version, "in", 0, split, (split - 1, 0), p.snapshot(head_state))
        restored = Checkpoint.decode(cp.encode())  # through the wire format of the checkpoint topic
        tail_state, tail_out = fold(p, events[split:], state=p.restore(restored.snapshot))
        assert [codec.encode(o) for o in head_out + tail_out] == [codec.encode(o) for o in full_out]
        assert p.snapshot(tail_state) == p.snapshot(full_state)
