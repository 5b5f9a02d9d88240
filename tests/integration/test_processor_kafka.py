"""The scheduler processor on the real Kafka and schema registry: a processor killed with SIGKILL at
several points and restarted ends with the decision log of an uninterrupted run, byte for byte; bad
records go to the dead-letter topic once; recovery from the checkpoint equals a full replay."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]  # runtime export

from agentic import wiring
from agentic.bench.scheduler_kafka import create_topics, synthetic_inputs
from agentic.config import Settings
from agentic.connectors.kafka import DLQ_OFFSET, DLQ_REASON, RawProducer
from agentic.connectors.kafka_positions import end_offsets
from agentic.schemas.codec import EventCodec
from agentic.schemas.samples import sample_event
from agentic.schemas.topics import key_for
from agentic.streams.scheduler.processor import scheduler_processor
from agentic.streams.shell import Mark, fold_positioned, mark_of
from agentic.streams.shell.faust_runtime import run_faust
from agentic.streams.shell.kafka import (
    KafkaShell,
    ShellConfig,
    VersionConflictError,
    group_id_for,
    read_events,
    state_at,
)

pytestmark = pytest.mark.integration

CHECKPOINT_EVERY = 150


@pytest.fixture(scope="module")
def codec(services: Settings) -> EventCodec:
    return wiring.codec(services)


def _topics() -> tuple[str, str, str]:
    run = uuid.uuid4().hex[:10]
    return f"test-proc-{run}.inputs", f"test-proc-{run}.decisions", f"test-proc-{run}.checkpoints"


def _publish(settings: Settings, codec: EventCodec, topic: str, events: list[Any],
             garbage_at: dict[int, bytes]) -> None:
    """Events in order, with raw ``garbage_at[i]`` bytes inserted before the i-th event."""
    producer = RawProducer(settings.kafka_bootstrap)
    for i, event in enumerate(events):
        if i in garbage_at:
            producer.send(topic, b"bad", garbage_at[i])
        producer.send(topic, key_for(event), codec.encode(event))
    producer.flush()


def _read_all(settings: Settings, topic: str) -> list[tuple[bytes, list[tuple[str, bytes]], int]]:
    end = end_offsets(settings.kafka_bootstrap, [topic])[(topic, 0)]
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"t-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    out: list[tuple[bytes, list[tuple[str, bytes]], int]] = []
    try:
        while len(out) < end:
            for msg in consumer.consume(1000, 2.0):
                assert msg.error() is None, msg.error()
                raw = msg.headers()
                pairs = raw.items() if isinstance(raw, dict) else (raw or [])
                headers = [(k, v) for k, v in pairs if isinstance(v, bytes)]
                out.append((msg.value() or b"", headers, int(msg.offset() or 0)))
    finally:
        consumer.close()
    return out


def _cli(settings: Settings, t_in: str, t_out: str, t_cp: str, runtime: str) -> list[str]:
    # The installed console script: `python -c` from the checkout would import the source folder `agentic/`.
    return [str(Path(sys.executable).with_name("agentic")), "--log-format", "json",
            "processor", "run", "scheduler", "--runtime", runtime, "--until-idle", "--idle-timeout", "1",
            "--checkpoint-every", str(CHECKPOINT_EVERY), "--inputs", t_in, "--decisions", t_out,
            "--checkpoints", t_cp]


def _env(settings: Settings, state_dir: Path) -> dict[str, str]:
    return {**os.environ, "AGENTIC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "AGENTIC_REGISTRY_URL": settings.registry_url, "AGENTIC_STATE_DIR": str(state_dir)}


def _kill_when(settings: Settings, proc: subprocess.Popen[bytes], topic: str, outputs: int,
               within: float = 240.0) -> bool:
    """SIGKILL ``proc`` as soon as ``topic`` holds ``outputs`` records; False if it exited first or the
    records did not come ``within`` seconds (it is killed then too)."""
    deadline = time.monotonic() + within
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return False
        if end_offsets(settings.kafka_bootstrap, [topic]).get((topic, 0), 0) >= outputs:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.01)
    return False


def _recoveries(log: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [rec for rec in lines if rec.get("event") == "shell.recovered"]


@pytest.mark.parametrize("runtime", ["faust", "confluent"])
def test_killed_and_restarted_processor_writes_the_uninterrupted_decision_log(
        services: Settings, codec: EventCodec, tmp_path: Path, runtime: str) -> None:
    t_in, t_out, t_cp = _topics()
    create_topics(services.kafka_bootstrap, t_in, t_out, t_cp)
    events = synthetic_inputs(30, 2500, seed=23)
    wrong_type = codec.encode(sample_event("MemoryWritten", i=0, seed=3))
    _publish(services, codec, t_in, events, {40: b"\x00\x00\x00\x00\x07garbage", 900: wrong_type, 1700: b""})

    # the uninterrupted run, folded in process over the same records
    processor = scheduler_processor(inputs=(t_in,), output=t_out)
    _, emitted = fold_positioned(processor, read_events(services.kafka_bootstrap, codec, t_in))
    expected = [(codec.encode(e.output), Mark(e.position, e.index)) for e in emitted]
    assert len(expected) > 1500

    # kill -9 once during start-up, then at random points of the output stream, then run to the end
    rng = random.Random(7)
    cmd, env = _cli(services, t_in, t_out, t_cp, runtime), _env(services, tmp_path)
    log = tmp_path / "processor.log"
    kills = 0
    with log.open("ab") as sink:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=sink)
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for _ in range(5):
            written = end_offsets(services.kafka_bootstrap, [t_out]).get((t_out, 0), 0)
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=sink)
            kills += _kill_when(services, proc, t_out, written + rng.randrange(1, 300))
        assert kills >= 4, "the processor finished before it could be killed: make the workload bigger"
        last = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=sink, timeout=300, check=False)
    assert last.returncode == 0, log.read_text()[-3000:]
    recoveries = _recoveries(log)
    assert len(recoveries) >= kills + 1
    # restarts really resumed mid-stream: from checkpoints, with outputs already written past them
    resumed = [r for r in recoveries if r["checkpoint_offset"] is not None and r["output_mark"][0] >= 0]
    assert len(resumed) >= 3, recoveries

    got = [(value, mark_of(headers, "scheduler")) for value, headers, _ in _read_all(services, t_out)]
    assert len(got) == len(expected)  # nothing lost, nothing duplicated
    assert got == expected  # and byte for byte the same decisions, in the same order

    # each bad record dead-lettered exactly once, with its reason
    letters = _read_all(services, f"{t_in}.dlq")
    offsets = sorted(int(dict(h)[DLQ_OFFSET]) for _, h, _ in letters)
    assert offsets == [40, 901, 1702]
    reasons = [dict(h)[DLQ_REASON].decode() for _, h, _ in letters]
    assert any("MemoryWritten is not a scheduling input" in r for r in reasons)

    # the state recovered from the latest checkpoint plus the tail equals a fold of the whole log
    from_checkpoint = state_at(processor, codec, services.kafka_bootstrap, checkpoint_topic=t_cp)
    full = state_at(processor, codec, services.kafka_bootstrap, checkpoint_topic=None)
    assert from_checkpoint.checkpoint_offset is not None and from_checkpoint.checkpoint_offset > 0
    assert processor.snapshot(from_checkpoint.state) == processor.snapshot(full.state)


def test_two_faust_workers_in_one_group_with_the_first_killed_write_the_uninterrupted_log(
        services: Settings, codec: EventCodec, tmp_path: Path) -> None:
    """A second worker joins the group mid-stream (the group may move the partition to it), then the first
    is killed: whoever gets the partition re-reads where the output log stands before going on."""
    t_in, t_out, t_cp = _topics()
    create_topics(services.kafka_bootstrap, t_in, t_out, t_cp)
    # The second part of the input is published only once the standby is in the group: the owner cannot
    # finish before the group has two members, however fast it runs.
    inputs = synthetic_inputs(30, 8000, seed=31)
    first, rest = inputs[:3000], inputs[3000:]
    _publish(services, codec, t_in, first, {})
    processor = scheduler_processor(inputs=(t_in,), output=t_out)
    cmd = [*_cli(services, t_in, t_out, t_cp, "faust")]
    cmd.remove("--until-idle")  # both run until stopped
    log = tmp_path / "workers.log"
    with log.open("ab") as sink:
        owner = subprocess.Popen(cmd, env=_env(services, tmp_path / "a"), stdout=subprocess.DEVNULL, stderr=sink)
        while end_offsets(services.kafka_bootstrap, [t_out]).get((t_out, 0), 0) < 1:  # the owner is running
            assert owner.poll() is None, log.read_text()[-3000:]
            time.sleep(0.05)
        standby = subprocess.Popen(cmd, env=_env(services, tmp_path / "b"), stdout=subprocess.DEVNULL, stderr=sink)
        try:
            _wait_for_members(services, group_id_for("scheduler"), 2, standby, log)  # the standby joined
            written = end_offsets(services.kafka_bootstrap, [t_out]).get((t_out, 0), 0)
            _publish(services, codec, t_in, rest, {})
            assert _kill_when(services, owner, t_out, written + 200), "the owner stopped writing before the kill"
            _, emitted = fold_positioned(processor, read_events(services.kafka_bootstrap, codec, t_in))
            expected = [(codec.encode(e.output), Mark(e.position, e.index)) for e in emitted]
            assert written < len(expected) - 400, "the first part of the input decided nearly everything"
            deadline = time.monotonic() + 240
            while end_offsets(services.kafka_bootstrap, [t_out]).get((t_out, 0), 0) < len(expected):
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                assert standby.poll() is None, log.read_text()[-3000:]
                time.sleep(0.5)
            time.sleep(2)  # nothing more may come
        finally:
            standby.send_signal(signal.SIGTERM)
            standby.wait(timeout=60)
    got = [(value, mark_of(headers, "scheduler")) for value, headers, _ in _read_all(services, t_out)]
    assert got == expected


def _wait_for_members(services: Settings, group: str, n: int, proc: subprocess.Popen[bytes], log: Path,
                      timeout: float = 60.0) -> None:
    """Until the consumer group has `n` members (the broker's view), or fail with the workers' log."""
    admin = AdminClient({"bootstrap.servers": services.kafka_bootstrap})
    deadline = time.monotonic() + timeout
    while len(admin.describe_consumer_groups([group])[group].result().members) < n:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)


def test_restart_after_a_clean_stop_writes_nothing_again(services: Settings, codec: EventCodec) -> None:
    t_in, t_out, t_cp = _topics()
    create_topics(services.kafka_bootstrap, t_in, t_out, t_cp)
    _publish(services, codec, t_in, synthetic_inputs(8, 300, seed=4), {})
    processor = scheduler_processor(inputs=(t_in,), output=t_out)
    config = ShellConfig(services.kafka_bootstrap, checkpoint_topic=t_cp, checkpoint_every=100, idle_timeout=0.3)
    first = KafkaShell(processor, codec, config).run(until_idle=True)
    assert first.outputs > 50 and first.checkpoints >= 3
    again = KafkaShell(processor, codec, config).run(until_idle=True)
    assert (again.inputs, again.outputs) == (0, 0)
    assert end_offsets(services.kafka_bootstrap, [t_out])[(t_out, 0)] == first.outputs


def test_another_configuration_ignores_the_checkpoint_and_refuses_to_append_to_the_log(
        services: Settings, codec: EventCodec) -> None:
    from agentic.streams.scheduler import SchedulerConfig

    t_in, t_out, t_cp = _topics()
    create_topics(services.kafka_bootstrap, t_in, t_out, t_cp)
    _publish(services, codec, t_in, synthetic_inputs(8, 200, seed=9), {})
    config = ShellConfig(services.kafka_bootstrap, checkpoint_topic=t_cp, checkpoint_every=50, idle_timeout=0.3)
    KafkaShell(scheduler_processor(inputs=(t_in,), output=t_out), codec, config).run(until_idle=True)
    spread = SchedulerConfig(placement="spread")

    with pytest.raises(VersionConflictError, match="written by version"):
        KafkaShell(scheduler_processor(spread, inputs=(t_in,), output=t_out), codec, config).recover()

    other_out = f"{t_out}.spread"
    create_topics(services.kafka_bootstrap, t_in, other_out, t_cp)
    recovery = KafkaShell(scheduler_processor(spread, inputs=(t_in,), output=other_out), codec, config).recover()
    assert recovery.checkpoint_offset is None and recovery.next_offset == 0
    assert "version" in (recovery.ignored_checkpoint or "")


class _Failing:
    """The scheduler processor (same name, version, topics), with a bug that strikes on one input."""

    def __init__(self, inner: Any, fail_at: str) -> None:
        self.inner, self.fail_at = inner, fail_at
        self.name, self.version, self.inputs, self.output = inner.name, inner.version, inner.inputs, inner.output

    def initial_state(self) -> Any:
        return self.inner.initial_state()

    def step(self, state: Any, event: Any) -> Any:
        if event.envelope.event_id == self.fail_at:
            raise RuntimeError("a bug in the core")
        return self.inner.step(state, event)

    def snapshot(self, state: Any) -> bytes:
        return bytes(self.inner.snapshot(state))

    def restore(self, data: bytes) -> Any:
        return self.inner.restore(data)


@pytest.mark.parametrize("runtime", ["faust", "confluent"])
def test_a_failing_core_stops_the_processor_without_a_checkpoint_past_the_failure(
        services: Settings, codec: EventCodec, tmp_path: Path, runtime: str) -> None:
    t_in, t_out, t_cp = _topics()
    create_topics(services.kafka_bootstrap, t_in, t_out, t_cp)
    events = synthetic_inputs(8, 300, seed=12)
    _publish(services, codec, t_in, events, {})
    healthy = scheduler_processor(inputs=(t_in,), output=t_out)
    processor = _Failing(healthy, fail_at=events[250].envelope.event_id)
    shell = KafkaShell(processor, codec, ShellConfig(services.kafka_bootstrap, checkpoint_topic=t_cp,
                                                     checkpoint_every=100, idle_timeout=0.3))
    with pytest.raises(RuntimeError, match="a bug in the core"):
        if runtime == "faust":
            run_faust(shell, tmp_path, until_idle=True)
        else:
            shell.run(until_idle=True)
    assert shell.recover().checkpoint_offset == 200  # the last one before the failing input, none after it
    KafkaShell(healthy, codec, shell.config).run(until_idle=True)
    _, emitted = fold_positioned(healthy, read_events(services.kafka_bootstrap, codec, t_in))
    got = [(value, mark_of(headers, "scheduler")) for value, headers, _ in _read_all(services, t_out)]
    assert got == [(codec.encode(e.output), Mark(e.position, e.index)) for e in emitted]


def test_faust_restart_with_its_group_offset_ahead_of_the_checkpoint_re_reads_from_the_checkpoint(
        services: Settings, codec: EventCodec, tmp_path: Path) -> None:
    """faust commits its own offsets as it goes; after a kill they are ahead of the last checkpoint. The
    restart must start from the checkpoint (group offset aligned first; else resync by seeking back), never
    from faust's own offset, which would skip inputs."""
    from agentic.streams.shell.kafka import group_id_for
    from agentic.streams.shell.status import committed_offset

    t_in, t_out, t_cp = _topics()
    create_topics(services.kafka_bootstrap, t_in, t_out, t_cp)
    _publish(services, codec, t_in, synthetic_inputs(30, 4000, seed=41), {})
    processor = scheduler_processor(inputs=(t_in,), output=t_out)
    _, emitted = fold_positioned(processor, read_events(services.kafka_bootstrap, codec, t_in))
    expected = [(codec.encode(e.output), Mark(e.position, e.index)) for e in emitted]
    cmd = _cli(services, t_in, t_out, t_cp, "faust")
    cmd[cmd.index("--checkpoint-every") + 1] = "1000000"  # no checkpoint before the kill
    log = tmp_path / "processor.log"
    with log.open("ab") as sink:
        first = subprocess.Popen(cmd, env=_env(services, tmp_path), stdout=subprocess.DEVNULL, stderr=sink)
        deadline = time.monotonic() + 120
        while (committed_offset(services.kafka_bootstrap, group_id_for("scheduler"), t_in) or 0) < 500:
            assert first.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        first.send_signal(signal.SIGKILL)
        first.wait()
        last = subprocess.run(cmd, env=_env(services, tmp_path), stdout=subprocess.DEVNULL, stderr=sink,
                              timeout=300, check=False)
    assert last.returncode == 0, log.read_text()[-3000:]
    got = [(value, mark_of(headers, "scheduler")) for value, headers, _ in _read_all(services, t_out)]
    assert got == expected
