"""The processor shell's pure parts: fold, checkpoint records, output marks, and recovery from a
checkpoint equal to a full replay (with the real scheduler processor and the real event codec)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from agentic.bench.scheduler_kafka import synthetic_inputs, task_finished
from agentic.schemas.codec import EventCodec, StaticSchemaIds
from agentic.schemas.samples import sample_event
from agentic.streams.scheduler.processor import scheduler_processor
from agentic.streams.shell import (
    NOTHING_WRITTEN,
    Checkpoint,
    CheckpointError,
    Mark,
    Unprocessable,
    fold,
    fold_positioned,
    mark_of,
    output_headers,
)
from agentic.streams.shell.marks import version_of

CODEC = EventCodec(StaticSchemaIds())


@dataclass(frozen=True)
class Summer:
    """A tiny processor: running sum of ints; emits the sum after each even input; refuses negatives."""

    name: str = "summer"
    version: str = "1"
    inputs: tuple[str, ...] = ("in",)
    output: str = "out"

    def initial_state(self) -> int:
        return 0

    def step(self, state: int, event: int) -> tuple[int, Sequence[str]]:
        if event < 0:
            raise Unprocessable(f"negative input {event}")
        state += event
        return state, ((f"sum={state}", f"n={event}") if event % 2 == 0 else ())

    def snapshot(self, state: int) -> bytes:
        return str(state).encode()

    def restore(self, data: bytes) -> int:
        return int(data)


def test_fold_steps_in_order_and_skips_unprocessable_inputs() -> None:
    state, out = fold(Summer(), [1, 2, -5, 4, 3])
    assert state == 10
    assert out == ["sum=3", "n=2", "sum=7", "n=4"]


def test_fold_positioned_keeps_input_position_and_output_index() -> None:
    _, emitted = fold_positioned(Summer(), [(10, 2), (11, 1), (12, 4)])
    assert [(e.position, e.index, e.output) for e in emitted] == [
        (10, 0, "sum=2"), (10, 1, "n=2"), (12, 0, "sum=7"), (12, 1, "n=4")]


def test_fold_from_a_restored_snapshot_continues_the_same_sequence() -> None:
    p = Summer()
    whole = fold(p, [2, 4, 6, 8])
    head_state, head = fold(p, [2, 4])
    tail_state, tail = fold(p, [6, 8], state=p.restore(p.snapshot(head_state)))
    assert (tail_state, head + tail) == whole


def test_checkpoint_round_trips_and_detects_corruption() -> None:
    cp = Checkpoint("scheduler", "1/1/abc", "agentic.scheduling.inputs", 0, 1234, (1230, 2), b'{"n":1}' * 100)
    assert Checkpoint.decode(cp.encode()) == cp
    data = bytearray(cp.encode())
    data[-3] ^= 0xFF
    with pytest.raises(CheckpointError):
        Checkpoint.decode(bytes(data))
    with pytest.raises(CheckpointError, match="AGCP"):
        Checkpoint.decode(b"not a checkpoint")


def test_checkpoint_is_usable_only_by_the_same_processor_version_and_input() -> None:
    cp = Checkpoint("scheduler", "v1", "in", 0, 10, (9, 0), b"s")
    assert cp.usable_for("scheduler", "v1", "in", 0) is None
    assert "version" in (cp.usable_for("scheduler", "v2", "in", 0) or "")
    assert "written for" in (cp.usable_for("other", "v1", "in", 0) or "")
    assert "written for" in (cp.usable_for("scheduler", "v1", "other", 0) or "")


def test_marks_order_outputs_and_cover_what_was_written() -> None:
    mark = Mark(7, 1)
    assert mark.covers(6, 9) and mark.covers(7, 0) and mark.covers(7, 1)
    assert not mark.covers(7, 2) and not mark.covers(8, 0)
    assert not NOTHING_WRITTEN.covers(0, 0)
    assert Mark(7, 2) > Mark(7, 1) > Mark(6, 9)


def test_output_headers_carry_the_mark_of_their_processor_only() -> None:
    headers = [(k, v if isinstance(v, bytes) else None) for k, v in output_headers("scheduler", "in", 0, 42, 3)]
    assert mark_of(headers, "scheduler") == Mark(42, 3)
    assert mark_of(headers, "other") is None
    assert mark_of(None, "scheduler") is None
    assert version_of(headers) is None
    versioned = [(k, v if isinstance(v, bytes) else None) for k, v in output_headers("s", "in", 0, 1, 0, "1/1/ab")]
    assert version_of(versioned) == "1/1/ab" and mark_of(versioned, "s") == Mark(1, 0)


# ----------------------------------------------------------------------------- the scheduler processor
@pytest.fixture(scope="module")
def inputs() -> list[object]:
    """Synthetic inputs through the codec both ways, as the shell sees them."""
    return [CODEC.decode(CODEC.encode(e)) for e in synthetic_inputs(12, 400, seed=5)]


def test_scheduler_recovery_from_a_checkpoint_equals_a_full_replay(inputs: list[object]) -> None:
    p = scheduler_processor()
    full_state, full_out = fold(p, inputs)
    full_bytes = [CODEC.encode(o) for o in full_out]
    assert len(full_bytes) > 100  # the workload really decides things
    for cut in (1, 13, 97, 250, len(inputs) - 1):
        head_state, head_out = fold(p, inputs[:cut])
        cp = Checkpoint(p.name, p.version, p.inputs[0], 0, cut, (cut - 1, 0), p.snapshot(head_state))
        restored = p.restore(Checkpoint.decode(cp.encode()).snapshot)
        tail_state, tail_out = fold(p, inputs[cut:], state=restored)
        assert [CODEC.encode(o) for o in head_out + tail_out] == full_bytes, f"cut at {cut}"
        assert p.snapshot(tail_state) == p.snapshot(full_state), f"cut at {cut}"


def test_scheduler_runs_are_byte_identical(inputs: list[object]) -> None:
    first = [CODEC.encode(o) for o in fold(scheduler_processor(), inputs)[1]]
    second = [CODEC.encode(o) for o in fold(scheduler_processor(), inputs)[1]]
    assert first == second


def test_scheduler_refuses_non_scheduling_events_before_touching_the_state(inputs: list[object]) -> None:
    p = scheduler_processor()
    state, _ = fold(p, inputs[:50])
    before = p.snapshot(state)
    with pytest.raises(Unprocessable, match="MemoryWritten is not a scheduling input"):
        p.step(state, sample_event("MemoryWritten", i=0, seed=1))
    assert p.snapshot(state) == before


def test_scheduler_turns_a_finish_of_an_unknown_task_into_a_rejection() -> None:
    p = scheduler_processor()
    _, out = p.step(p.initial_state(), task_finished("nobody", at=5))
    assert [type(o).__name__ for o in out] == ["TaskRejected"]
    assert out[0].reason == "UNKNOWN_TASK" and out[0].envelope.causation_id


def test_scheduler_version_names_the_non_default_settings_and_the_policy_version() -> None:
    from agentic.streams.scheduler import SchedulerConfig

    default = scheduler_processor().version
    assert scheduler_processor(SchedulerConfig(placement="frag")).version == default  # the default, spelled out
    assert scheduler_processor(SchedulerConfig(placement="spread")).version != default
    assert scheduler_processor(SchedulerConfig(seed=7)).version != scheduler_processor(SchedulerConfig(seed=8)).version
    assert scheduler_processor(SchedulerConfig(policy_version="2")).version.split("/")[1] == "2"
