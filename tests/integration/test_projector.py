"""The projector against real Kafka, the real schema registry and the real ClickHouse engine (chDB).

Fresh topics and consumer groups per test; tests wait for positions (offsets, row counts), never sleep a
fixed time to let something happen.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, TopicPartition

from agentic import wiring
from agentic.config import Settings
from agentic.connectors.clickhouse import EndpointSql, live_endpoint, open_client
from agentic.connectors.kafka import RawProducer, ensure_topics
from agentic.connectors.kafka_positions import end_offsets
from agentic.projections import replay as rp
from agentic.projections.clickhouse import schema
from agentic.projections.clickhouse.checksums import table_checksums
from agentic.projections.clickhouse.decode import DictDecoder
from agentic.projections.clickhouse.projector import Projector, ProjectorConfig
from agentic.projections.clickhouse.rows import UNDECODABLE
from agentic.projections.clickhouse.sink import ClickHouseSink
from agentic.schemas.codec import EventCodec
from agentic.schemas.samples import sample_events
from agentic.schemas.topics import TopicSpec

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """One chDB folder per module: a process may have one open at a time (closed at the module's end)."""
    client = open_client(Settings(state_dir=Path(tmp_path_factory.mktemp("state"))))
    yield client
    client.close()


def fresh_topics(settings: Settings, n: int = 2, partitions: int = 2) -> tuple[str, ...]:
    run = uuid.uuid4().hex[:8]
    specs = [TopicSpec(name=f"test.projector.{run}.{i}", event_types=(), key_field="", partitions=partitions,
                       doc="test") for i in range(n)]
    ensure_topics(settings.kafka_bootstrap, specs)
    return tuple(s.name for s in specs)


def publish(settings: Settings, topics: tuple[str, ...], n: int, corrupt: int = 0) -> int:
    codec = EventCodec(wiring.schema_ids(settings))
    producer = RawProducer(settings.kafka_bootstrap)
    for i, event in enumerate(sample_events(n, seed=11)):
        producer.send(topics[i % len(topics)], f"k{i % 5}".encode(), codec.encode(event))
    for i in range(corrupt):
        producer.send(topics[0], b"bad", b"\x00\x00\x00\x00\x01garbage" + bytes([i]))
    producer.flush()
    return n + corrupt


def projector(settings: Settings, client: Client, topics: tuple[str, ...], database: str,
              **config: float) -> Projector:
    schema.create(client, database)
    cfg = ProjectorConfig(topics=topics, database=database, group_id=f"test-{uuid.uuid4().hex[:8]}",
                          batch_records=1_000, linger_s=0.05, **config)
    return Projector(settings.kafka_bootstrap, ClickHouseSink(client, database), wiring.schema_ids(settings), cfg)


def count(client: Client, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def test_every_record_is_one_row_offsets_are_committed_and_a_restart_adds_nothing(
        services: Settings, chdb: Client) -> None:
    topics = fresh_topics(services)
    total = publish(services, topics, 3_000, corrupt=1)
    db = f"p_{uuid.uuid4().hex[:8]}"
    first = projector(services, chdb, topics, db)
    first.catch_up(timeout_s=120)
    ends = end_offsets(services.kafka_bootstrap, topics)
    assert sum(ends.values()) == total
    assert count(chdb, f"SELECT count() FROM {db}.events") == total
    assert count(chdb, f"SELECT count() FROM {db}.events WHERE event_type = '{UNDECODABLE}'") == 1
    consumer = Consumer({"bootstrap.servers": services.kafka_bootstrap, "group.id": first.config.group_id})
    committed = consumer.committed([TopicPartition(t, p) for t, p in ends], timeout=10)
    consumer.close()
    assert {(c.topic, c.partition): c.offset for c in committed} == ends
    first.close()
    before = table_checksums(chdb, db)
    again = projector(services, chdb, topics, db)
    again.catch_up(timeout_s=60)
    assert again.progress.records == 0
    assert table_checksums(chdb, db) == before
    again.close()


def test_clickhouse_failure_is_retried_with_backoff_and_the_projection_catches_up(
        services: Settings, chdb: Client) -> None:
    topics = fresh_topics(services)
    total = publish(services, topics, 2_000)
    db = f"p_{uuid.uuid4().hex[:8]}"
    proj = projector(services, chdb, topics, db, retry_initial_s=0.05, retry_max_s=0.2)
    proj.start()
    chdb.command(f"DETACH TABLE {db}.events")  # inserts now fail inside the real engine
    worker = threading.Thread(target=proj.catch_up, kwargs={"timeout_s": 120})
    worker.start()
    deadline = time.monotonic() + 60
    while proj.progress.retries < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proj.progress.retries >= 3, "the projector should be retrying while the table is detached"
    assert "events" in proj.progress.last_error and proj.progress.lag == total
    chdb.command(f"ATTACH TABLE {db}.events")
    worker.join(timeout=120)
    assert not worker.is_alive() and proj.progress.last_error == ""
    proj.close()
    rebuilt = f"{db}_rebuilt"
    rp.rebuild(chdb, services.kafka_bootstrap, DictDecoder(wiring.schema_ids(services)), rebuilt,
               end_offsets(services.kafka_bootstrap, topics))
    assert count(chdb, f"SELECT count() FROM {db}.events") == total
    assert table_checksums(chdb, db) == table_checksums(chdb, rebuilt)


def _agentic(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("agentic")), "--log-format", "json", *args]


def _checksums_of(state: Path) -> dict[str, list[int]]:
    code = ("import json,sys; from pathlib import Path; from agentic.config import Settings; "
            "from agentic.connectors.clickhouse import open_client; "
            "from agentic.projections.clickhouse.checksums import table_checksums; "
            "c = open_client(Settings(state_dir=Path(sys.argv[1]))); "
            "print(json.dumps(table_checksums(c, 'agentic')))")
    # cwd outside the checkout: `python -c` puts cwd first on sys.path, and the checkout's `agentic/` folder is
    # not the installed package.
    out = subprocess.run([sys.executable, "-c", code, str(state)], check=True, capture_output=True, text=True,
                         cwd=state.parent)
    return {k: list(v) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def test_projector_killed_mid_stream_restarts_to_the_counts_and_checksums_of_an_uninterrupted_run(
        services: Settings, chdb: Client, tmp_path: Path) -> None:
    topics = fresh_topics(services)
    total = publish(services, topics, 20_000)
    whole = f"p_{uuid.uuid4().hex[:8]}"
    uninterrupted = projector(services, chdb, topics, whole)
    uninterrupted.catch_up(timeout_s=300)
    uninterrupted.close()
    state = tmp_path / "state"
    env = {**os.environ, "AGENTIC_STATE_DIR": str(state), "AGENTIC_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
           "AGENTIC_REGISTRY_URL": services.registry_url}
    topic_args = [a for t in topics for a in ("--topic", t)]
    args = ["projector", "run", "--batch", "500", "--group", f"test-{uuid.uuid4().hex[:8]}", *topic_args]
    proc = subprocess.Popen(_agentic(*args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        settings = Settings(state_dir=state)
        deadline = time.monotonic() + 120
        url = None
        while url is None and time.monotonic() < deadline:
            url = live_endpoint(settings)
        assert url is not None, "the projector did not serve its SQL endpoint"
        port = EndpointSql(url)
        projected = 0
        while projected < 2_000 and time.monotonic() < deadline:
            try:
                projected = int(port.query("SELECT count() FROM agentic.events").rows[0][0])
            except Exception:  # tables not created yet
                projected = 0
        assert 2_000 <= projected < total, f"could not catch the projector mid-stream ({projected} rows)"
        port.close()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    restart = subprocess.run(_agentic(*args, "--until-caught-up"), env=env, capture_output=True,
                             text=True, timeout=300)
    assert restart.returncode == 0, restart.stderr[-2000:]
    live = _checksums_of(state)
    assert live["events"][0] == total
    assert live == {k: list(v) for k, v in table_checksums(chdb, whole).items()}
