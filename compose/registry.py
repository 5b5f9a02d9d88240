"""Apicurio Registry (Confluent-compatible API) from Maven Central, storing schemas in Kafka (kafkasql).

The kafkasql storage keeps every registry change in the Kafka topic ``kafkasql-journal`` and
replays it at start, so schemas and their ids survive a registry restart as long as Kafka's
data does.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agentic.config import Settings

from . import versions
from .java import find_java
from .process import (
    PidRecord,
    StackError,
    http_get,
    install_atomically,
    require_tool,
    run_logged,
    spawn,
)

NAME = "registry"
VERSION = versions.APICURIO
ARTIFACT = f"io.apicurio:apicurio-registry-app:{VERSION}:tar.gz:all"
# registry 8081 -> management (health) 8091; Quarkus' default 9000 is ClickHouse's native port
MANAGEMENT_PORT_OFFSET = 10
JVM_OPTS = ("-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1")


def install_dir(settings: Settings) -> Path:
    return settings.cache_dir / f"apicurio-registry-{VERSION}"


def install(settings: Settings) -> bool:
    """Download the registry bundle with Maven and unpack it into the cache once."""
    mvn = require_tool(NAME, "mvn", "install Apache Maven (Debian: apt-get install maven)")
    log_file = settings.state_dir / "logs" / "install-registry.log"

    def build(tmp: Path) -> None:
        run_logged(NAME, "install (maven copy)", [
            mvn, "-q", "-B",
            f"org.apache.maven.plugins:maven-dependency-plugin:{versions.MAVEN_DEPENDENCY_PLUGIN}:copy",
            f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={tmp / 'download'}",
        ], log_file, cwd=tmp)
        bundles = list((tmp / "download").glob("*.tar.gz"))
        if len(bundles) != 1:
            raise StackError(NAME, "install (unpack)", f"expected one tar.gz, found {bundles}", log_file)
        with tarfile.open(bundles[0]) as tar:
            tar.extractall(tmp / "app", filter="data")
        bundles[0].unlink()  # Maven's local repository keeps a copy
        if not (tmp / "app" / "quarkus-run.jar").is_file():
            raise StackError(NAME, "install (unpack)", "quarkus-run.jar missing from the bundle", log_file)

    return install_atomically(install_dir(settings), build)


def http_address(settings: Settings) -> tuple[str, int]:
    parts = urlsplit(settings.registry_url)
    if parts.hostname is None or parts.port is None:
        raise StackError(NAME, "configure", f"registry_url {settings.registry_url!r}: expected "
                         "http://HOST:PORT/apis/ccompat/v7 (env AGENTIC_REGISTRY_URL)")
    return parts.hostname, parts.port


def base_url(settings: Settings) -> str:
    host, port = http_address(settings)
    return f"http://{host}:{port}"


def management_url(settings: Settings) -> str:
    host, port = http_address(settings)
    return f"http://{host}:{port + MANAGEMENT_PORT_OFFSET}"


def system_properties(settings: Settings, snapshots: Path) -> list[str]:
    """Quarkus/Apicurio settings as -D flags: loopback only, kafkasql storage on our Kafka."""
    host, port = http_address(settings)
    props = {
        "quarkus.http.host": host,
        "quarkus.http.port": str(port),
        "quarkus.management.host": host,
        "quarkus.management.port": str(port + MANAGEMENT_PORT_OFFSET),
        "apicurio.storage.kind": "kafkasql",
        "apicurio.kafkasql.bootstrap.servers": settings.kafka_bootstrap,
        "apicurio.storage.snapshot.location": str(snapshots),
    }
    return [f"-D{k}={v}" for k, v in props.items()]


def launch(settings: Settings) -> PidRecord:
    """Start the registry detached with Java 21+ (Apicurio 3.x needs it)."""
    work = settings.state_dir / "registry"
    (work / "snapshots").mkdir(parents=True, exist_ok=True)
    java = str(find_java(NAME, versions.APICURIO_MIN_JAVA))
    argv = [java, *JVM_OPTS, *system_properties(settings, work / "snapshots"),
            "-jar", str(install_dir(settings) / "app" / "quarkus-run.jar")]
    return spawn(NAME, argv, state_dir=settings.state_dir, version=VERSION, cwd=work)


def ready(settings: Settings) -> bool:
    """True when the Confluent-compatible API answers (and, for Apicurio, its storage is ready)."""
    health = http_get(f"{management_url(settings)}/health/ready")
    if health is not None and health.status_code != 200:
        return False  # Apicurio is up but its kafkasql storage is still replaying
    subjects = http_get(f"{settings.registry_url.rstrip('/')}/subjects")
    return subjects is not None and int(subjects.status_code) == 200


def info(settings: Settings) -> dict[str, Any]:
    """What the registry reports about itself (Apicurio's system info, else ccompat only)."""
    out: dict[str, Any] = {"address": settings.registry_url, "up": ready(settings)}
    if not out["up"]:
        return out
    system = http_get(f"{base_url(settings)}/apis/registry/v3/system/info")
    if system is not None and system.status_code == 200:
        body = system.json()
        out.update(name=body.get("name"), version=body.get("version"), built_on=body.get("builtOn"))
    config = http_get(f"{settings.registry_url.rstrip('/')}/config")
    if config is not None and config.status_code == 200:
        out["compatibility"] = config.json().get("compatibilityLevel")
    return out
