"""`agentic sql`, `agentic report`, `agentic audit` and `agentic projector status` on a real projection."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentic import wiring
from agentic.cli.main import cli
from agentic.config import Settings
from agentic.connectors.clickhouse import open_client
from agentic.connectors.kafka import RawProducer, ensure_topics
from agentic.connectors.kafka_positions import end_offsets
from agentic.projections.clickhouse.projector import Projector, ProjectorConfig
from agentic.projections.clickhouse.sink import ClickHouseSink
from agentic.schemas.codec import EventCodec
from agentic.schemas.samples import sample_events
from agentic.schemas.topics import TopicSpec, key_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def projected(services: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, str]]:
    """A state dir whose chDB folder holds the projection of 600 sample events on fresh topics."""
    state = Path(tmp_path_factory.mktemp("state"))
    topic = f"test.cli.{uuid.uuid4().hex[:8]}"
    ensure_topics(services.kafka_bootstrap, [TopicSpec(name=topic, event_types=(), key_field="", partitions=1,
                                                       doc="test")])
    ids = wiring.schema_ids(services)
    codec, producer = EventCodec(ids), RawProducer(services.kafka_bootstrap)
    events = sample_events(600, seed=21)
    for e in events:
        producer.send(topic, key_for(e), codec.encode(e))
    producer.flush()
    client = open_client(Settings(state_dir=state))
    proj = Projector(services.kafka_bootstrap, ClickHouseSink(client, "agentic"), ids,
                     ProjectorConfig(topics=(topic,), group_id=topic, linger_s=0.05))
    proj.catch_up(end_offsets(services.kafka_bootstrap, [topic]), timeout_s=120)
    proj.close()
    task = next(e.task_id for e in events if type(e).__name__ == "TaskAllocated")
    client.close()
    yield state, len(events), task


def run(state: Path, services: Settings, *args: str) -> str:
    env = {"AGENTIC_STATE_DIR": str(state), "AGENTIC_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
           "AGENTIC_REGISTRY_URL": services.registry_url}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_sql_in_every_format_counts_every_record(services: Settings, projected: tuple[Path, int, str]) -> None:
    state, total, _ = projected
    as_json = json.loads(run(state, services, "sql", "SELECT count() AS n FROM events", "--format", "json"))
    assert as_json == [{"n": total}]
    rows = list(csv.reader(io.StringIO(run(state, services, "sql", "SELECT event_type, count() AS n FROM events "
                                                                   "GROUP BY event_type ORDER BY event_type",
                                           "--format", "csv"))))
    assert rows[0] == ["event_type", "n"] and sum(int(n) for _, n in rows[1:]) == total
    assert f"{total}" in run(state, services, "sql", "SELECT count() FROM events")


@pytest.mark.parametrize("name", ["utilization", "queues", "tenants", "tools", "models"])
def test_every_report_runs_and_returns_rows(services: Settings, projected: tuple[Path, int, str], name: str) -> None:
    state, _, _ = projected
    out = json.loads(run(state, services, "report", name, "--format", "json"))
    assert out and all(isinstance(row, dict) for row in out)


def test_the_models_report_counts_the_calls_tokens_and_cost_of_the_events(
        services: Settings, projected: tuple[Path, int, str]) -> None:
    state, _, _ = projected
    calls = [e for e in sample_events(600, seed=21) if type(e).__name__ == "ModelCallCompleted"]
    routes = [e for e in sample_events(600, seed=21) if type(e).__name__ == "RouteDecided"]
    assert calls and routes
    out = json.loads(run(state, services, "report", "models", "--format", "json"))
    assert sum(r["routed"] for r in out) == len(routes)
    assert sum(r["succeeded"] + r["failed_or_limited"] for r in out) == len(calls)
    assert sum(r["input_tokens"] for r in out) == sum(c.input_tokens for c in calls)  # routes' estimates not added
    cost = sum(c.cost_usd_micros for c in calls) / 1e6
    assert abs(sum(r["cost_usd"] for r in out) - cost) <= 0.0001 * len(out)  # each row rounded to 4 places


def test_audit_prints_the_allocation_with_its_score_breakdown(services: Settings,
                                                              projected: tuple[Path, int, str]) -> None:
    state, _, task = projected
    out = run(state, services, "audit", "task", task)
    assert f"task {task}:" in out and "TaskAllocated" in out and "score=" in out and "policy=" in out
