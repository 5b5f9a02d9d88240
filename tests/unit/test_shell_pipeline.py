"""The shell's per-record logic without a broker: which outputs are sent after a restart, what is
dead-lettered, redelivered inputs, gaps and the checkpoint cadence. The sink records what the pipeline
sends; the Kafka behaviour itself is tested in tests/integration/test_processor_kafka.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from agentic.connectors.kafka import DLQ_OFFSET, DLQ_REASON
from agentic.schemas.codec import DecodeError
from agentic.streams.shell import NOTHING_WRITTEN, Checkpoint, Mark, fold_positioned, mark_of
from agentic.streams.shell.kafka import InputGapError, Pipeline, Recovery, ShellConfig, ShellStats
from agentic.streams.shell.marks import output_headers

from .test_shell import Summer


class IntCodec:
    """Inputs are ASCII integers; outputs are strings."""

    def decode(self, data: bytes) -> int:
        try:
            return int(data)
        except ValueError:
            raise DecodeError("invalid_event", f"not an integer: {data!r}") from None

    def encode(self, out: str) -> bytes:
        return out.encode()


@dataclass
class Sink:
    """Stands in for the idempotent producer: keeps what was sent, per topic, in order."""

    sent: dict[str, list[tuple[bytes | None, bytes, list[Any]]]] = field(default_factory=dict)
    flushes: int = 0

    def send(self, topic: str, key: bytes | None, value: bytes, headers: list[Any] | None = None) -> None:
        self.sent.setdefault(topic, []).append((key, value, headers or []))

    def flush(self, timeout: float = 60.0) -> int:
        self.flushes += 1
        return 0

    def poll(self) -> None:
        return None


@dataclass(frozen=True)
class Rec:
    """A consumed record, with the methods the pipeline reads."""

    off: int
    val: bytes | None

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return "in"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self.off

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes | None:
        return self.val

    def headers(self) -> list[tuple[str, bytes]]:
        return []


def _pipeline(rec: Recovery[int], every: int = 1000) -> tuple[Pipeline[int], Sink]:
    shell = SimpleNamespace(processor=Summer(), codec=IntCodec(), key=lambda out: b"k", topic="in", partition=0,
                            config=ShellConfig("unused:9092", checkpoint_topic="cp", checkpoint_every=every),
                            stats=ShellStats())
    sink = Sink()
    return Pipeline(shell, rec, sink), sink  # SimpleNamespace and Sink stand in for the shell and producer


VALUES = [b"2", b"1", b"oops", b"4", b"6", b"3", b"8"]


def _records(start: int = 0) -> list[Rec]:
    return [Rec(i, v) for i, v in enumerate(VALUES)][start:]


def _outputs(sink: Sink) -> list[tuple[bytes, Mark | None]]:
    return [(v, mark_of(h, "summer")) for _, v, h in sink.sent.get("out", [])]


def test_an_uninterrupted_run_sends_every_output_with_its_mark() -> None:
    pipeline, sink = _pipeline(Recovery(0, 0, NOTHING_WRITTEN, -1, None))
    pipeline.handle(_records())
    _, emitted = fold_positioned(Summer(), [(i, int(v)) for i, v in enumerate(VALUES) if v.isdigit()])
    assert _outputs(sink) == [(e.output.encode(), Mark(e.position, e.index)) for e in emitted]
    assert [h for _, _, h in sink.sent["out"]] == [output_headers("summer", "in", 0, e.position, e.index,
                                                                 Summer().version) for e in emitted]
    letters = sink.sent["in.dlq"]
    assert len(letters) == 1 and dict(letters[0][2])[DLQ_OFFSET] == b"2"
    assert b"not an integer" in dict(letters[0][2])[DLQ_REASON]


def test_a_restart_sends_only_what_the_output_log_does_not_have() -> None:
    full, full_sink = _pipeline(Recovery(0, 0, NOTHING_WRITTEN, -1, None))
    full.handle(_records())
    everything = _outputs(full_sink)
    # crashed after writing the first output of input 3 (and the dead letter of input 2); checkpoint at 1
    restarted, sink = _pipeline(Recovery(Summer().restore(b"2"), 1, Mark(3, 0), 2, 1))
    restarted.handle(_records(start=1))
    assert _outputs(sink) == everything[everything.index((b"n=4", Mark(3, 1))):]
    assert "in.dlq" not in sink.sent  # dead-lettered before the crash: not again
    assert restarted.stats.skipped == 1


def test_redelivered_inputs_are_ignored_and_a_gap_stops_the_pipeline() -> None:
    pipeline, sink = _pipeline(Recovery(0, 0, NOTHING_WRITTEN, -1, None))
    pipeline.handle(_records()[:4])
    sent = len(_outputs(sink))
    pipeline.handle(_records()[1:4])  # fetched again by the consumer
    assert len(_outputs(sink)) == sent and pipeline.stats.redelivered == 3
    with pytest.raises(InputGapError, match="jumped from offset 4 to 6"):
        pipeline.handle([Rec(6, b"8")])


def test_checkpoints_every_n_inputs_cover_what_was_flushed() -> None:
    pipeline, sink = _pipeline(Recovery(0, 0, NOTHING_WRITTEN, -1, None), every=3)
    pipeline.handle(_records())
    checkpoints = [Checkpoint.decode(v) for _, v, _ in sink.sent["cp"]]
    assert [c.next_offset for c in checkpoints] == [3, 6]
    assert [Summer().restore(c.snapshot) for c in checkpoints] == [3, 16]  # 2+1 (+ "oops" skipped), +4+6+3
    assert checkpoints[1].mark == (4, 1)
    pipeline.checkpoint()  # a clean stop writes the last one
    assert Checkpoint.decode(sink.sent["cp"][-1][1]).next_offset == 7


def test_a_tombstone_is_dead_lettered_not_a_crash() -> None:
    pipeline, sink = _pipeline(Recovery(0, 0, NOTHING_WRITTEN, -1, None))
    pipeline.handle([Rec(0, None), Rec(1, b"2")])
    assert b"tombstone" in dict(sink.sent["in.dlq"][0][2])[DLQ_REASON]
    assert _outputs(sink) == [(b"sum=2", Mark(1, 0)), (b"n=2", Mark(1, 1))]


def _faust_events(offsets: list[int]) -> list[SimpleNamespace]:
    return [SimpleNamespace(message=SimpleNamespace(topic="in", partition=0, offset=o, key=b"k",
                                                    value=VALUES[o], headers=[])) for o in offsets]


def test_faust_batches_are_taken_in_order_up_to_a_record_fetched_from_elsewhere() -> None:
    from agentic.streams.shell.faust_runtime import _handle_in_order

    pipeline, sink = _pipeline(Recovery(0, 0, NOTHING_WRITTEN, -1, None))
    assert _handle_in_order(pipeline, _faust_events([4, 5])) is False  # fetched before the seek: re-read
    assert pipeline.next_offset == 0 and not sink.sent
    assert _handle_in_order(pipeline, _faust_events([0, 1, 3])) is False  # 0 and 1 taken, 3 is beyond 2
    assert pipeline.next_offset == 2
    assert _handle_in_order(pipeline, _faust_events([1, 2, 3, 4])) is True  # 1 again is ignored
    assert pipeline.next_offset == 5 and pipeline.stats.redelivered == 1
