"""The native launcher against the real services: idempotent up, status, persistence, safe down."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentic.compose import kafka, stack, versions
from agentic.compose.process import (
    PidRecord,
    StackError,
    install_atomically,
    is_installed,
    pid_file,
    read_record,
    spawn,
    start_ticks,
)
from agentic.config import Settings

pytestmark = pytest.mark.integration

CONTENT_TYPE = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


def test_up_is_idempotent(services: Settings) -> None:
    before = {name: read_record(services.state_dir, name) for name in stack.ORDER}
    results = stack.up(services, timeout=30)
    assert [r.service for r in results] == list(stack.ORDER)
    assert {r.action for r in results} == {"already running"}
    assert {name: read_record(services.state_dir, name) for name in stack.ORDER} == before


def test_status_reports_what_the_services_say(services: Settings, services_origin: dict[str, str]) -> None:
    report = stack.status(services)
    assert all(entry["up"] for entry in report.values()), report
    assert len(report["kafka"]["cluster_id"]) == 22  # 16 bytes, base64url without padding
    assert report["kafka"]["nodes"] == [f"1@{services.kafka_bootstrap}"]
    assert report["registry"]["version"] == versions.APICURIO
    assert report["weaviate"]["version"] == versions.WEAVIATE
    assert report["clickhouse"]["version"].split(".")[0].isdigit()
    if services_origin["origin"] != "docker":  # a container's broker process is not visible in /proc
        assert report["kafka"]["version"] == versions.KAFKA


def test_status_command_exits_non_zero_when_a_service_is_down(services: Settings, tmp_path: Path) -> None:
    free = _free_port()
    env = {"AGENTIC_STATE_DIR": str(tmp_path), "AGENTIC_WEAVIATE_HTTP_PORT": str(free),
           "AGENTIC_KAFKA_BOOTSTRAP": services.kafka_bootstrap, "AGENTIC_REGISTRY_URL": services.registry_url}
    done = subprocess.run(_agentic("stack", "status", "--json"), env={**_base_env(), **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["weaviate"]["up"] is False
    assert report["kafka"]["up"] is True


@pytest.fixture()
def second_registry(services: Settings, tmp_path: Path) -> Iterator[Settings]:
    """Another registry instance on a free port, on the same Kafka, owned by this test."""
    port = _free_port()
    own = dataclasses.replace(services, state_dir=tmp_path,
                              registry_url=f"http://127.0.0.1:{port}/apis/ccompat/v7")
    try:
        yield own
    finally:
        stack.down(own, ["registry"])


def test_registry_schema_survives_a_restart(second_registry: Settings) -> None:
    stack.up(second_registry, ["registry"], timeout=180)
    subject = f"stack-test-{uuid.uuid4().hex[:8]}-value"
    schema = {"type": "record", "name": "Probe", "namespace": "agentic.test",
              "fields": [{"name": "a", "type": "string"}]}
    url = f"{second_registry.registry_url}/subjects/{subject}/versions"
    registered = httpx.post(url, json={"schema": json.dumps(schema)}, headers=CONTENT_TYPE, timeout=10)
    assert registered.status_code == 200, registered.text
    schema_id = registered.json()["id"]

    assert stack.down(second_registry, ["registry"]) == ["registry"]
    assert read_record(second_registry.state_dir, "registry") is None
    [result] = stack.up(second_registry, ["registry"], timeout=180)
    assert result.action == "started"

    latest = httpx.get(f"{url}/latest", timeout=10).json()
    assert latest["id"] == schema_id
    assert json.loads(latest["schema"]) == schema


def test_registry_accepts_the_compatibility_calls_the_schema_team_uses(services: Settings) -> None:
    subject = f"stack-compat-{uuid.uuid4().hex[:8]}-value"
    base = services.registry_url
    config = httpx.put(f"{base}/config/{subject}", json={"compatibility": "BACKWARD_TRANSITIVE"},
                       headers=CONTENT_TYPE, timeout=10)
    assert config.status_code == 200, config.text
    v1 = {"type": "record", "name": "P", "fields": [{"name": "a", "type": "string"}]}
    httpx.post(f"{base}/subjects/{subject}/versions", json={"schema": json.dumps(v1)},
               headers=CONTENT_TYPE, timeout=10).raise_for_status()
    with_default = {**v1, "fields": [*v1["fields"], {"name": "b", "type": "int", "default": 0}]}
    without_default = {**v1, "fields": [*v1["fields"], {"name": "c", "type": "int"}]}
    check = f"{base}/compatibility/subjects/{subject}/versions/latest"
    ok = httpx.post(check, json={"schema": json.dumps(with_default)}, headers=CONTENT_TYPE, timeout=10)
    bad = httpx.post(check, json={"schema": json.dumps(without_default)}, headers=CONTENT_TYPE, timeout=10)
    assert ok.json()["is_compatible"] is True
    assert bad.json()["is_compatible"] is False


def test_down_leaves_alone_what_this_state_dir_did_not_start(services: Settings, tmp_path: Path) -> None:
    own = dataclasses.replace(services, state_dir=tmp_path)
    assert stack.down(own) == []
    assert all(svc.ready(services) for svc in stack.SERVICES.values())


def test_down_ignores_a_stale_pid_record_whose_pid_was_reused(tmp_path: Path) -> None:
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        ticks = start_ticks(stranger.pid)
        assert ticks is not None
        record = PidRecord("weaviate", stranger.pid, ticks - 1, versions.WEAVIATE, str(tmp_path / "x.log"))
        path = pid_file(tmp_path, "weaviate")
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(dataclasses.asdict(record)))
        assert stack.down(Settings(state_dir=tmp_path)) == []
        assert stranger.poll() is None  # still running
        assert not path.exists()  # the stale record is gone
    finally:
        stranger.kill()
        stranger.wait()


def test_down_stops_a_process_up_started(tmp_path: Path) -> None:
    record = spawn("weaviate", ["sleep", "60"], state_dir=tmp_path, version="test", cwd=tmp_path)
    assert stack.down(Settings(state_dir=tmp_path), ["weaviate"], timeout=5) == ["weaviate"]
    assert start_ticks(record.pid) is None
    assert read_record(tmp_path, "weaviate") is None


def test_up_names_the_step_when_a_port_is_taken_by_a_stranger(services: Settings, tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        own = dataclasses.replace(services, state_dir=tmp_path, weaviate_http_port=port)
        with pytest.raises(StackError) as caught:
            stack.up(own, ["weaviate"], timeout=10)
    assert caught.value.step == "check port"
    assert str(port) in str(caught.value)


def test_weaviate_client_multi_tenancy_and_hybrid_query(services: Settings) -> None:
    import weaviate
    from weaviate.classes.config import Configure, DataType, Property
    from weaviate.classes.tenants import Tenant

    name = f"StackProbe{uuid.uuid4().hex[:8]}"
    with weaviate.connect_to_local(host=services.weaviate_host, port=services.weaviate_http_port,
                                   grpc_port=services.weaviate_grpc_port) as client:
        collection = client.collections.create(
            name, properties=[Property(name="text", data_type=DataType.TEXT)],
            vector_config=Configure.Vectors.self_provided(),
            multi_tenancy_config=Configure.multi_tenancy(enabled=True),
        )
        try:
            collection.tenants.create([Tenant(name="t1"), Tenant(name="t2")])
            t1 = collection.with_tenant("t1")
            t1.data.insert({"text": "gpu scheduling for agents"}, vector=[1.0, 0.0, 0.0])
            t1.data.insert({"text": "memory consolidation"}, vector=[0.0, 1.0, 0.0])
            collection.with_tenant("t2").data.insert({"text": "gpu in another tenant"}, vector=[1.0, 0.0, 0.0])
            hits = t1.query.hybrid(query="gpu", vector=[1.0, 0.0, 0.0], alpha=0.5, limit=5).objects
            assert hits and hits[0].properties["text"] == "gpu scheduling for agents"
            assert all("another tenant" not in str(h.properties["text"]) for h in hits)
        finally:
            client.collections.delete(name)


def test_an_interrupted_install_is_not_taken_for_a_finished_one(tmp_path: Path) -> None:
    target = tmp_path / "tool-1.0"

    def interrupted(tmp: Path) -> None:
        (tmp / "half-written.jar").write_text("x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        install_atomically(target, interrupted)
    assert not target.exists() and not is_installed(target)
    assert install_atomically(target, lambda tmp: (tmp / "tool.jar").write_text("ok")) is True
    assert is_installed(target) and (target / "tool.jar").read_text() == "ok"
    assert install_atomically(target, interrupted) is False  # cached: the build is not run again
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tool-1.0.tmp")] == []


def test_kafka_config_is_single_node_kraft_on_the_given_address(tmp_path: Path) -> None:
    props = dict(line.split("=", 1) for line in
                 kafka.server_properties("127.0.0.1", 19092, 19093, tmp_path).splitlines())
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["auto.create.topics.enable"] == "false"
    assert props["log.dirs"] == str(tmp_path)
    assert len(kafka.new_cluster_id()) == 22


def test_a_cluster_id_never_starts_with_a_dash() -> None:
    """kafka-storage reads `-t -x...` as an option: a CI run failed on such an id (1 launch in 64)."""
    draws = iter([bytes([0xF8]) + bytes(15), bytes([0xFB]) + bytes(15), bytes(16)])  # '-', '-', then 'A'
    cluster_id = kafka.new_cluster_id(lambda n: next(draws))
    assert cluster_id == "A" * 22 and next(draws, None) is None
    assert not any(kafka.new_cluster_id().startswith("-") for _ in range(2000))


def test_unknown_service_names_are_rejected_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown service\(s\) \['zookeeper'\]: choose among"):
        stack.select(["kafka", "zookeeper"])
    assert stack.select(["weaviate", "kafka"]) == ["kafka", "weaviate"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _agentic(*args: str) -> list[str]:
    """The installed console script, as a user runs it."""
    return [str(Path(sys.executable).parent / "agentic"), *args]


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AGENTIC_")}
