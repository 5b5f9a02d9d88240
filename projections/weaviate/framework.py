"""The contract of a Weaviate projection: apply a batch, say whether its offsets may be committed.

A shell (the Kafka consumer loop) hands a projection consecutive items, each tagged with its
source position; the projection writes them with deterministic object UUIDs (so a redelivered
batch overwrites instead of adding) and answers with a :class:`BatchOutcome`. The shell commits
the batch's offsets only when ``outcome.commit`` is true; otherwise it retries the same batch
(idempotent by construction) with backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    """An item with the Kafka position it came from."""

    topic: str
    partition: int
    offset: int
    item: T


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    applied: int
    failed: tuple[tuple[str, str], ...]  # (object key, reason)
    last_offsets: tuple[tuple[str, int, int], ...]  # (topic, partition, next offset to commit)

    @property
    def commit(self) -> bool:
        """True when every object was written: only then may the offsets be committed."""
        return not self.failed


def next_offsets(batch: Sequence[Sourced[T]]) -> tuple[tuple[str, int, int], ...]:
    """Per (topic, partition), the offset after the last item: what a consumer commits."""
    last: dict[tuple[str, int], int] = {}
    for s in batch:
        last[(s.topic, s.partition)] = max(last.get((s.topic, s.partition), -1), s.offset)
    return tuple((t, p, o + 1) for (t, p), o in sorted(last.items()))


class WeaviateProjection(Protocol[T]):
    """What every Weaviate projection offers its shell."""

    def setup(self) -> None:
        """Create or migrate the collections it writes (idempotent)."""

    def apply(self, batch: Sequence[Sourced[T]]) -> BatchOutcome:
        """Write the batch in order; never raise for a refused object, report it."""
