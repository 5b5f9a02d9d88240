"""The contract every stream processor fulfils, and the pure fold that replay and tests run.

A processor is a pure core (``step``) plus what a shell needs to run it: its name, the topic it reads,
the topic it writes, an empty state, and a way to persist the state (``snapshot``/``restore``). The core
never sees Kafka: the Kafka shell (`agentic.streams.shell.kafka`) decodes records into events, calls
``step`` and writes the outputs; `fold` runs the same ``step`` over a plain iterable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

S = TypeVar("S")
E = TypeVar("E")
O = TypeVar("O")  # noqa: E741 - the conventional name of the output type variable
O_co = TypeVar("O_co", covariant=True)
E_contra = TypeVar("E_contra", contravariant=True)


class Unprocessable(Exception):
    """Raised by ``step`` BEFORE it touches the state, for an event it cannot take (for example an event
    type it does not read). The shell dead-letters the record with this reason and goes on."""


class Processor(Protocol[S, E_contra, O_co]):
    """A deterministic stream processor.

    - ``name``: stable id; the checkpoint key and the value of the ``agentic.processor`` header.
    - ``version``: changes whenever ``step`` may decide differently or the snapshot format changes;
      a checkpoint written by another version is ignored (the shell replays from the first input).
    - ``inputs``: the topics it reads (the Kafka shell runs exactly one single-partition topic: one total order).
    - ``output``: the topic its outputs go to.
    - ``step(state, event) -> (state, outputs)``: pure; may mutate and return ``state`` (the shell never
      reuses a state it passed in). Outputs are ordered: their index is part of their identity.
    - ``snapshot(state) -> bytes`` / ``restore(bytes) -> state``: ``restore(snapshot(s))`` behaves exactly as ``s``.
    """

    # Read-only members: a frozen dataclass or a property satisfies them.
    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def inputs(self) -> tuple[str, ...]: ...

    @property
    def output(self) -> str: ...

    def initial_state(self) -> S: ...

    def step(self, state: S, event: E_contra) -> tuple[S, Sequence[O_co]]: ...

    def snapshot(self, state: S) -> bytes: ...

    def restore(self, data: bytes) -> S: ...


@dataclass(frozen=True, slots=True)
class Emitted(Generic[O_co]):
    """One output and where it came from: the input's position (offset, or index in a plain sequence)
    and the output's index among that input's outputs. ``(position, index)`` orders the output log."""

    position: int
    index: int
    output: O_co


def fold(processor: Processor[S, E, O], events: Iterable[E], state: S | None = None) -> tuple[S, list[O]]:
    """Run ``step`` over ``events`` from ``state`` (default: ``processor.initial_state()``).

    Returns the final state and every output, in order. An event ``step`` refuses (`Unprocessable`) gives
    no output, as in the Kafka shell (which dead-letters it). Pure: this is what `replay --verify` runs
    over a recorded input log to compare with the recorded output log.
    """
    current, emitted = fold_positioned(processor, enumerate(events), state)
    return current, [e.output for e in emitted]


def fold_positioned(processor: Processor[S, E, O], events: Iterable[tuple[int, E]],
                    state: S | None = None) -> tuple[S, list[Emitted[O]]]:
    """`fold` over ``(position, event)`` pairs, keeping each output's ``(position, index)``."""
    current = processor.initial_state() if state is None else state
    emitted: list[Emitted[O]] = []
    for position, event in events:
        try:
            current, out = processor.step(current, event)
        except Unprocessable:
            continue
        emitted.extend(Emitted(position, i, o) for i, o in enumerate(out))
    return current, emitted
