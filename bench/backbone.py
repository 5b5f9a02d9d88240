"""`agentic bench backbone`: typed events through Kafka and back, against a raw confluent-kafka baseline.

Measured path (what users run): validate + encode (Confluent-framed Avro) + send + acknowledgement, then
fetch + decode to typed events through `EventConsumer`. Baseline, in the same run and on the same broker:
the same pre-encoded bytes produced and consumed by plain confluent-kafka, no encoding or decoding.
Both topics are new in each round, so one record is written to each and acknowledged before any clock
starts: otherwise the first side to produce waits for the new topic's metadata and leader (~0.5 s; until
2026-11-28 this was a fixed cost on the baseline's produce, which flattered the produce ratio). Each side
runs `rounds` times, alternating, and the best round of each counts (the machine is shared and noisy;
alternating keeps drift from favouring one side). Next to events/s (wall clock) the JSON gives CPU µs per
event of this process (`time.process_time`, librdkafka's threads included) for each side, the figure to
compare on a busy machine, the garbage collector's collections per generation while consuming, and the
load average and the interpreter's speed (`python_loop_ns`: CPU ns per iteration of a plain loop) before
and after the run, which decoder read the records (`decoder`: `compiled`, the C module, or `python`
when it is missing or turned off with AGENTIC_PURE_PYTHON=1), and how many records each side asked for
per poll (`batch_records`, the same on both sides).
"""

from __future__ import annotations

import gc
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # runtime export

from agentic import wiring
from agentic.config import Settings
from agentic.connectors.kafka import EventConsumer, RawProducer, consumer_config
from agentic.schemas.codec import EventCodec
from agentic.schemas.samples import sample_events
from agentic.schemas.topics import key_for


@dataclass(frozen=True, slots=True)
class Timed:
    """Wall-clock and CPU seconds spent on `events` records."""

    wall_s: float
    cpu_s: float
    events: int
    gc_collections: tuple[int, ...] = ()  # collections per generation while timed (consume sides)

    def __post_init__(self) -> None:
        if self.events <= 0:
            raise ValueError("no record was timed (all came in the first batch, before the clocks started); "
                             "run with more --events")

    @property
    def per_s(self) -> float:
        return self.events / self.wall_s

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / self.events * 1e6


@dataclass(frozen=True, slots=True)
class Round:
    """One side (measured path or baseline) in one round."""

    produce: Timed
    consume: Timed


def _topic(admin: AdminClient, name: str, partitions: int) -> str:
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    for future in futures.values():
        future.result()
    return name


def python_loop_ns() -> float:
    """CPU ns per iteration of a plain interpreter loop: how fast this machine runs Python right now
    (on the shared machine it changes several-fold with the load), to compare runs made at different times."""
    start, total = time.process_time(), 0
    for i in range(1_000_000):
        total += i
    return round((time.process_time() - start) * 1000, 1)


def _gc_collections() -> tuple[int, ...]:
    return tuple(int(g["collections"]) for g in gc.get_stats())


def _produce_events(raw: RawProducer, codec: EventCodec, topic: str, events: Sequence[Any]) -> Timed:
    start, cpu = time.perf_counter(), time.process_time()
    for event in events:
        raw.send(topic, key_for(event), codec.encode(event))
    raw.flush()
    return Timed(time.perf_counter() - start, time.process_time() - cpu, len(events))


def _produce_raw(raw: RawProducer, topic: str, records: Sequence[tuple[bytes, bytes]]) -> Timed:
    start, cpu = time.perf_counter(), time.process_time()
    for key, value in records:
        raw.send(topic, key, value)
    raw.flush()
    return Timed(time.perf_counter() - start, time.process_time() - cpu, len(records))


def _consume_events(bootstrap: str, codec: EventCodec, topic: str, n: int, batch: int) -> Timed:
    """Fetch + decode through the consumer users run. The clocks start once the first batch is in, as
    for the baseline, so that joining the group is not counted on either side; only the records
    fetched after that count. Both sides ask for at most the records still to come: a batch call waits
    for as many records as it asked for or its whole timeout, and end-of-partition events take places
    in a batch, so asking for 10,000 when 2 were left counted 1 s of idle time as consuming (seen in a
    scratch run: 75k instead of 500k events/s)."""
    consumer = EventConsumer(bootstrap, f"bench-{uuid.uuid4()}", [topic], codec, None)
    try:
        got, first, start, cpu, gcs = 0, 0, 0.0, 0.0, _gc_collections()
        end = end_cpu = 0.0
        while got < n:
            polled = consumer.poll(max_records=min(batch, n - got), timeout=1.0)
            got += len(polled)
            if polled and not start:
                start, cpu, first, gcs = time.perf_counter(), time.process_time(), got, _gc_collections()
            if polled:
                end, end_cpu = time.perf_counter(), time.process_time()
        return Timed(end - start, end_cpu - cpu, got - first,
                     tuple(b - a for a, b in zip(gcs, _gc_collections(), strict=True)))
    finally:
        consumer.close()


def _consume_raw(bootstrap: str, topic: str, n: int, batch: int) -> Timed:
    config = {**consumer_config(bootstrap, f"bench-{uuid.uuid4()}", from_beginning=True),
              "enable.partition.eof": False}
    consumer = Consumer(config)
    consumer.subscribe([topic])
    try:
        got, first, start, cpu, gcs = 0, 0, 0.0, 0.0, _gc_collections()
        end = end_cpu = 0.0
        while got < n:
            msgs = consumer.consume(min(batch, n - got), 1.0)
            records = sum(1 for m in msgs if m.error() is None and m.value() is not None)
            got += records
            if got and not start:
                start, cpu, first, gcs = time.perf_counter(), time.process_time(), got, _gc_collections()
            if records:
                end, end_cpu = time.perf_counter(), time.process_time()
        return Timed(end - start, end_cpu - cpu, got - first,
                     tuple(b - a for a, b in zip(gcs, _gc_collections(), strict=True)))
    finally:
        consumer.close()


def run(settings: Settings, n_events: int, rounds: int = 3, partitions: int = 3, seed: int = 7,
        batch: int = 10_000) -> dict[str, Any]:
    codec = wiring.codec(settings)
    events = sample_events(n_events, seed=seed)
    records = [(key_for(e), codec.encode(e)) for e in events]
    gc.freeze()  # the inputs live for the whole run: keep them out of every collection (both sides alike)
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    run_id = uuid.uuid4().hex[:8]
    created: list[str] = []
    measured: list[Round] = []
    baseline: list[Round] = []
    load_before, loop_before = os.getloadavg()[0], python_loop_ns()
    try:
        for i in range(rounds):
            base_topic = _topic(admin, f"agentic.bench.{run_id}.raw{i}", partitions)
            ev_topic = _topic(admin, f"agentic.bench.{run_id}.events{i}", partitions)
            created += [base_topic, ev_topic]
            raw = RawProducer(settings.kafka_bootstrap)
            for topic in (base_topic, ev_topic):  # neither side's clock includes learning a new topic's leader
                raw.send(topic, *records[0])
            raw.flush()
            baseline.append(Round(_produce_raw(raw, base_topic, records),
                                  _consume_raw(settings.kafka_bootstrap, base_topic, n_events, batch)))
            measured.append(Round(_produce_events(raw, codec, ev_topic, events),
                                  _consume_events(settings.kafka_bootstrap, codec, ev_topic, n_events, batch)))
    finally:
        if created:
            for future in admin.delete_topics(created).values():
                future.result()
    out = report(n_events, measured, baseline, sum(len(v) for _, v in records) / max(1, n_events), partitions)
    out["load_average_before"], out["load_average_after"] = round(load_before, 2), round(os.getloadavg()[0], 2)
    out["python_loop_ns_before"], out["python_loop_ns_after"] = loop_before, python_loop_ns()
    out["decoder"] = codec.decoder
    out["batch_records"] = batch
    return out


def report(n: int, measured: Sequence[Round], baseline: Sequence[Round], mean_bytes: float,
           partitions: int) -> dict[str, Any]:
    """The best round of each side and stage: events/s by wall clock, and CPU µs per event."""
    def best(rounds: Sequence[Round], stage: str) -> float:
        return round(max(float(getattr(r, stage).per_s) for r in rounds), 1)

    def cpu_us(rounds: Sequence[Round], stage: str) -> float:
        return round(min(float(getattr(r, stage).cpu_us) for r in rounds), 2)

    out: dict[str, Any] = {
        "events": n,
        "rounds": len(measured),
        "partitions": partitions,
        "mean_value_bytes": round(mean_bytes, 1),
        "produce_events_per_s": best(measured, "produce"),
        "consume_events_per_s": best(measured, "consume"),
        "baseline_produce_events_per_s": best(baseline, "produce"),
        "baseline_consume_events_per_s": best(baseline, "consume"),
    }
    out["produce_ratio"] = round(out["produce_events_per_s"] / out["baseline_produce_events_per_s"], 3)
    out["consume_ratio"] = round(out["consume_events_per_s"] / out["baseline_consume_events_per_s"], 3)
    for side, rounds in (("", measured), ("baseline_", baseline)):
        out[f"{side}produce_cpu_us_per_event"] = cpu_us(rounds, "produce")
        out[f"{side}consume_cpu_us_per_event"] = cpu_us(rounds, "consume")
    out["consume_timed_events"] = min(r.consume.events for r in measured)
    for side, rounds in (("", measured), ("baseline_", baseline)):  # the fastest round's
        fastest = max(rounds, key=lambda r: r.consume.per_s)
        out[f"{side}consume_gc_collections"] = list(fastest.consume.gc_collections)
    return out
