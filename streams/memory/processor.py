"""The consolidation processor's shell: Kafka ``agentic.memory`` -> core -> Kafka + Weaviate.

A thin loop around the pure core. Per polled batch: map events to commands (``events.py``),
embed writes that carry no vector, ``apply`` them in log order, publish the derived events
(MemoryConsolidated, MemoryExpired, TripleAsserted; deterministic ids), apply the outputs to the
Weaviate projection, and commit the consumer offsets only once Kafka acknowledged the derived
events and the projection reported no failed object. A failed batch is retried whole (every step
is idempotent) with backoff, so nothing is lost and nothing is committed past a failure.

Recovery: the core state lives in this process. A restarted processor rebuilds it by reading the
topic from offset 0 under a new consumer group (``replay=True``); re-applied projection writes
overwrite the same objects and re-published derived events carry the same event ids, so
idempotent readers see no change. (Snapshotting the state at known offsets is future work.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import structlog

from agentic.connectors.embeddings import Embedder
from agentic.projections.weaviate.framework import Sourced
from agentic.projections.weaviate.memory import MemoryProjection
from agentic.streams.memory.core import apply
from agentic.streams.memory.events import command_of, events_of
from agentic.streams.memory.model import Command, MemoryConfig, MemoryState, Output, WriteMemory

log = structlog.get_logger(__name__)


class MemoryProcessor:
    def __init__(self, consumer: Any, producer: Any | None, embedder: Embedder, projection: MemoryProjection,
                 config: MemoryConfig = MemoryConfig(), max_backoff_s: float = 30.0) -> None:  # noqa: B008
        self._consumer = consumer
        self._producer = producer
        self._embedder = embedder
        self._projection = projection
        self._config = config
        self._max_backoff = max_backoff_s
        self.state = MemoryState()
        self.applied = 0

    def _commands(self, batch: Sequence[Any]) -> list[tuple[Any, Command]]:
        pairs = [(item, cmd) for item in batch if (cmd := command_of(item.event)) is not None]
        todo = [(i, c) for i, (_, c) in enumerate(pairs) if isinstance(c, WriteMemory) and not c.embedding]
        if todo:
            vectors = self._embedder.embed([w.content for _, w in todo]).astype(np.float64)
            for (i, write), row in zip(todo, vectors, strict=True):
                pairs[i] = (pairs[i][0], replace(write, embedding=tuple(row.tolist())))
        return pairs

    def step(self, max_records: int = 2000, timeout: float = 0.5) -> int:
        """Process one polled batch; returns the number of records read (0 when idle)."""
        batch = self._consumer.poll(max_records=max_records, timeout=timeout)
        if not batch:
            return 0
        state = self.state
        sourced: list[Sourced[Output]] = []
        published: list[object] = []
        for item, cmd in self._commands(batch):
            state, out = apply(state, cmd, self._config)
            sourced += [Sourced(item.topic, item.partition, item.offset, o) for o in out]
            published += events_of(out, item.event.envelope)
        self._deliver(sourced, published)
        self.state = state
        self._consumer.commit()
        self.applied += len(batch)
        return len(batch)

    def _deliver(self, sourced: list[Sourced[Output]], published: list[object]) -> None:
        delay = 0.5
        while True:
            try:
                if self._producer is not None and published:
                    self._producer.publish_many(published)
                    self._producer.flush()
                outcome = self._projection.apply(sourced)
                if outcome.commit:
                    return
                log.warning("memory.projection_failed", failed=len(outcome.failed), first=outcome.failed[0])
            except Exception as exc:  # a service is down: retry the whole (idempotent) batch
                log.warning("memory.deliver_retry", error=str(exc), delay_s=delay)
            time.sleep(delay)
            delay = min(self._max_backoff, delay * 2)

    def run(self, stop: Callable[[], bool], idle_timeout: float | None = None) -> int:
        """Process until ``stop()`` is true or, with ``idle_timeout``, nothing arrived for that long."""
        last = time.monotonic()
        while not stop():
            if self.step():
                last = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - last > idle_timeout:
                break
        return self.applied
