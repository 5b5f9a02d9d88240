"""The launcher's public API: bring the services up, report on them, stop what we started.

    up(settings, services=("kafka", "registry", "weaviate"), timeout=180.0) -> list[UpResult]
    down(settings, services=None, timeout=30.0) -> list[str]
    status(settings) -> dict[str, dict]

Order matters: the registry keeps its schemas in Kafka, so Kafka comes first and goes last.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from agentic.config import Settings

from . import clickhouse, kafka, registry, weaviate
from .process import (
    PidRecord,
    StackError,
    pid_file,
    port_open,
    read_record,
    split_host_port,
    start_ticks,
    stop,
    wait_for,
)

log = structlog.get_logger("agentic.compose")



class Service(Protocol):
    """What each service module (kafka.py, registry.py, weaviate.py) provides."""

    def install(self, settings: Settings) -> bool: ...
    def launch(self, settings: Settings) -> PidRecord: ...
    def ready(self, settings: Settings) -> bool: ...
    def info(self, settings: Settings) -> dict[str, Any]: ...


SERVICES: dict[str, Service] = {"kafka": kafka, "registry": registry, "weaviate": weaviate}
ORDER: tuple[str, ...] = tuple(SERVICES)
NEEDS: dict[str, tuple[str, ...]] = {"registry": ("kafka",)}


@dataclass(frozen=True, slots=True)
class UpResult:
    """What ``up`` did for one service, with the seconds spent installing and waiting."""

    service: str
    action: str  # "already running" | "started" | "waited for starting process"
    version: str | None
    pid: int | None
    install_s: float
    ready_s: float


def select(services: Iterable[str] | None) -> list[str]:
    """The chosen services in start order; an unknown name is an error naming the valid ones."""
    chosen = list(ORDER) if services is None else [s.strip() for s in services if s.strip()]
    unknown = sorted(set(chosen) - set(ORDER))
    if unknown:
        raise ValueError(f"unknown service(s) {unknown}: choose among {list(ORDER)}")
    return [s for s in ORDER if s in chosen]


def primary_port(settings: Settings, name: str) -> tuple[str, int]:
    if name == "kafka":
        return split_host_port(settings.kafka_bootstrap)
    if name == "registry":
        host, port = registry.http_address(settings)
        return host, port
    return settings.weaviate_host, settings.weaviate_http_port


def up(settings: Settings, services: Sequence[str] | None = None, timeout: float = 180.0) -> list[UpResult]:
    """Install (first use) and start each chosen service, waiting for real readiness.

    A service that already answers is left alone; a process we started that is still booting is
    waited for; a stale pid record is dropped. Raises StackError naming the step that failed.
    """
    names = select(services)
    results = []
    for name in names:
        for need in NEEDS.get(name, ()):
            if need not in names and not SERVICES[need].ready(settings):
                raise StackError(name, "check dependencies",
                                 f"needs {need}, which does not answer: start it too (--only {need},{name})")
        results.append(_up_one(settings, name, timeout))
    return results


def _up_one(settings: Settings, name: str, timeout: float) -> UpResult:
    svc = SERVICES[name]
    record = read_record(settings.state_dir, name)
    if svc.ready(settings):
        log.info("already running", service=name)
        return UpResult(name, "already running", record.version if record else None,
                        record.pid if record else None, 0.0, 0.0)
    if record is not None:
        waited = _wait_ready(settings, name, record, timeout)
        return UpResult(name, "waited for starting process", record.version, record.pid, 0.0, waited)
    host, port = primary_port(settings, name)
    if port_open(host, port):
        raise StackError(name, "check port", f"{host}:{port} is taken by a process this launcher did not "
                         f"start and it does not answer as {name}: stop it or configure another port")
    t0 = time.monotonic()
    installed = svc.install(settings)
    install_s = time.monotonic() - t0
    if installed:
        log.info("installed", service=name, seconds=round(install_s, 1))
    t1 = time.monotonic()
    record = svc.launch(settings)
    ready_s = _wait_ready(settings, name, record, timeout, started=t1)
    log.info("ready", service=name, seconds=round(ready_s, 1), pid=record.pid)
    return UpResult(name, "started", record.version, record.pid, install_s, ready_s)


def _wait_ready(settings: Settings, name: str, record: PidRecord, timeout: float,
                started: float | None = None) -> float:
    t0 = time.monotonic() if started is None else started
    svc = SERVICES[name]

    def alive() -> bool:
        return start_ticks(record.pid) == record.start_ticks

    ok = wait_for(lambda: not alive() or svc.ready(settings), timeout, interval=0.5)
    if not alive():
        pid_file(settings.state_dir, name).unlink(missing_ok=True)
        raise StackError(name, "start", f"process {record.pid} exited before it was ready",
                         Path(record.log_file))
    if not ok:
        raise StackError(name, "wait for readiness", f"not ready after {timeout:.0f} s; pid {record.pid} "
                         "is still running (`agentic stack down` stops it)", Path(record.log_file))
    return time.monotonic() - t0


def down(settings: Settings, services: Sequence[str] | None = None, timeout: float = 30.0) -> list[str]:
    """Stop the chosen services that ``up`` started from this state dir (reverse order); data stays."""
    return [name for name in reversed(select(services)) if stop(settings.state_dir, name, timeout)]


def status(settings: Settings) -> dict[str, dict[str, Any]]:
    """What each service reports about itself, plus the pid if this state dir started it."""
    report: dict[str, dict[str, Any]] = {}
    for name, svc in SERVICES.items():
        try:
            entry = svc.info(settings)
        except Exception as exc:  # a half-started service must not crash the report
            entry = {"up": False, "error": f"{type(exc).__name__}: {exc}"}
        record = read_record(settings.state_dir, name)
        entry["started_by_launcher"] = record is not None
        if record is not None:
            entry.update(pid=record.pid, log_file=record.log_file)
        report[name] = entry
    try:
        report[clickhouse.NAME] = clickhouse.info(settings)
    except Exception as exc:
        report[clickhouse.NAME] = {"up": False, "error": f"{type(exc).__name__}: {exc}"}
    return report
