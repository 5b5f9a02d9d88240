"""Apache Kafka in KRaft mode (one node, broker + controller) from the Maven Central jars."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from agentic.config import Settings

from . import versions
from .java import find_java
from .process import (
    PidRecord,
    StackError,
    install_atomically,
    listening_pid,
    port_open,
    require_tool,
    run_logged,
    spawn,
    split_host_port,
)

NAME = "kafka"
VERSION = versions.KAFKA
JVM_OPTS = ("-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS")

_quiet = logging.getLogger("agentic.compose.librdkafka")
_quiet.setLevel(logging.CRITICAL)  # connection-refused chatter while the broker boots is expected


def install_dir(settings: Settings) -> Path:
    return settings.cache_dir / f"kafka-{VERSION}"


def runtime_pom(kafka_version: str, slf4j_simple_version: str) -> str:
    """A pom whose runtime dependencies are the broker and an SLF4J 1.7 logging backend."""
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.agentic</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>{kafka_version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{kafka_version}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>{slf4j_simple_version}</version>
    </dependency>
  </dependencies>
</project>
"""


def server_properties(host: str, broker_port: int, controller_port: int, log_dir: Path) -> str:
    """server.properties of a single-node KRaft cluster bound to ``host``."""
    lines = [
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@{host}:{controller_port}",
        f"listeners=PLAINTEXT://{host}:{broker_port},CONTROLLER://{host}:{controller_port}",
        f"advertised.listeners=PLAINTEXT://{host}:{broker_port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        f"log.dirs={log_dir}",
        "num.partitions=1",
        "auto.create.topics.enable=false",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
    ]
    return "\n".join(lines) + "\n"


def new_cluster_id(randbytes: Callable[[int], bytes] = os.urandom) -> str:
    """16 random bytes, base64url without padding (what `kafka-storage random-uuid` prints). Like Kafka's
    own `Uuid.randomUuid`, an id starting with "-" is drawn again: `kafka-storage format -t -x...` would
    read it as an option and fail ("expected one argument"), 1 launch in 64 otherwise."""
    while True:
        cluster_id = base64.urlsafe_b64encode(randbytes(16)).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def install(settings: Settings) -> bool:
    """Resolve the broker's runtime jars into the cache once; True if this call did it."""
    mvn = require_tool(NAME, "mvn", "install Apache Maven (Debian: apt-get install maven)")
    log_file = settings.state_dir / "logs" / "install-kafka.log"

    def build(tmp: Path) -> None:
        (tmp / "pom.xml").write_text(runtime_pom(VERSION, versions.SLF4J_SIMPLE))
        run_logged(NAME, "install (maven copy-dependencies)", [
            mvn, "-q", "-B", "-f", str(tmp / "pom.xml"),
            f"org.apache.maven.plugins:maven-dependency-plugin:{versions.MAVEN_DEPENDENCY_PLUGIN}"
            ":copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={tmp / 'libs'}",
        ], log_file, cwd=tmp)
        _check_libs(tmp / "libs", log_file)

    return install_atomically(install_dir(settings), build)


def _check_libs(libs: Path, log_file: Path) -> None:
    names = {p.name for p in libs.glob("*.jar")}
    wanted = f"kafka_2.13-{VERSION}.jar"
    if wanted not in names:
        raise StackError(NAME, "install (check jars)", f"{wanted} missing from {libs}", log_file)
    if not any(n.startswith("slf4j-api-1.7.") for n in names):
        raise StackError(NAME, "install (check jars)",
                         f"the broker no longer uses the SLF4J 1.7 API; slf4j-simple "
                         f"{versions.SLF4J_SIMPLE} would not attach: update versions.SLF4J_SIMPLE",
                         log_file)


def _paths(settings: Settings) -> tuple[Path, Path]:
    base = settings.state_dir / "kafka"
    return base / "data", base / "server.properties"


def launch(settings: Settings) -> PidRecord:
    """Write server.properties, format the data dir once, start the broker detached."""
    host, port = split_host_port(settings.kafka_bootstrap)
    data, props = _paths(settings)
    data.mkdir(parents=True, exist_ok=True)
    props.write_text(server_properties(host, port, port + 1, data))
    java = str(find_java(NAME, 17))
    classpath = str(install_dir(settings) / "libs" / "*")
    if not (data / "meta.properties").exists():
        run_logged(NAME, "format storage", [
            java, "-cp", classpath, "kafka.tools.StorageTool", "format",
            "-t", new_cluster_id(), "-c", str(props),
        ], settings.state_dir / "logs" / "kafka-format.log", cwd=props.parent)
    argv = [java, *JVM_OPTS, "-cp", classpath, "kafka.Kafka", str(props)]
    return spawn(NAME, argv, state_dir=settings.state_dir, version=VERSION, cwd=props.parent)


def _admin(settings: Settings) -> AdminClient:
    config: dict[str, Any] = {"bootstrap.servers": settings.kafka_bootstrap, "logger": _quiet,
                              "socket.connection.setup.timeout.ms": 2000}
    return AdminClient(config)


def ready(settings: Settings) -> bool:
    """True when the broker answers a metadata request and lists itself."""
    host, port = split_host_port(settings.kafka_bootstrap)
    if not port_open(host, port):
        return False
    try:
        metadata = _admin(settings).list_topics(timeout=3)
    except Exception:  # KafkaException while the broker is still starting
        return False
    return len(metadata.brokers) > 0


def info(settings: Settings) -> dict[str, Any]:
    """What the broker reports: cluster id, controller, nodes; version of the jar it runs."""
    out: dict[str, Any] = {"address": settings.kafka_bootstrap, "up": False}
    if not ready(settings):
        return out
    admin = _admin(settings)  # keep a reference: a collected client destroys its pending futures
    cluster = admin.describe_cluster(request_timeout=5).result()
    out.update(up=True, cluster_id=cluster.cluster_id,
               controller_id=cluster.controller.id if cluster.controller else None,
               nodes=[f"{n.id}@{n.host}:{n.port}" for n in cluster.nodes])
    out["version"] = running_jar_version(listening_pid(split_host_port(settings.kafka_bootstrap)[1]))
    return out


def running_jar_version(pid: int | None) -> str | None:
    """Version of the kafka_2.13-*.jar on the classpath of the broker process ``pid``, from /proc.

    The broker does not report its software version over the Kafka protocol; the jar it runs does.
    """
    if pid is None:
        return None
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    for i, arg in enumerate(argv[:-1]):
        if arg == b"-cp":
            libs = Path(argv[i + 1].decode()).parent
            for jar in libs.glob("kafka_2.13-*.jar"):
                return jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")
    return None
