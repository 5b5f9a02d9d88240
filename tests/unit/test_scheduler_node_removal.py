"""A node that leaves evicts its tasks with a decision that is a valid event (it once had an empty preemptor,
which the schema refuses, and crashed the processor)."""

from __future__ import annotations

import uuid

from agentic.schemas.codec import validate
from agentic.streams.scheduler.mapping import to_event
from agentic.streams.scheduler.model import TaskAllocated, TaskPreempted
from agentic.streams.scheduler.testing import Driver


def test_tasks_on_a_removed_node_are_evicted_by_a_valid_event() -> None:
    d = Driver()
    d.meta = lambda corr="": _uuid_meta(d, corr)  # type: ignore[method-assign]
    d.node("n1", gpus=8)
    d.queue("q")
    assert any(isinstance(x, TaskAllocated) for x in d.submit("t1", gpus=2))
    out = d.remove("n1")
    evicted = [x for x in out if isinstance(x, TaskPreempted)]
    assert [x.task_id for x in evicted] == ["t1"]
    assert evicted[0].preemptor_task_id == "node:n1" and evicted[0].node_ids == ("n1",)
    validate(to_event(evicted[0]))


def _uuid_meta(d: Driver, corr: str):  # type: ignore[no-untyped-def]
    from agentic.streams.scheduler.model import Meta

    d.seq += 1
    return Meta(str(uuid.UUID(int=d.seq)), d.now, "t1", corr or str(uuid.UUID(int=10_000 + d.seq)))
