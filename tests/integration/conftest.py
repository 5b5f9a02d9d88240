"""The real services for integration tests, started by the project itself.

``services`` (session scope) returns the ``Settings`` to reach Kafka, the schema registry and
Weaviate, chosen in this order:

1. they already answer at the configured addresses (``Settings.from_env()``): use them as they are;
2. a Docker engine answers: ``compose/docker-compose.yml`` through testcontainers, removed at the end;
3. otherwise the native launcher (``agentic.compose.stack.up``) starts whatever does not answer,
   with data and logs in a temporary state dir, and stops what it started at the end.

It never skips: if the services cannot be brought up, every test using it errors with the reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentic.compose import stack
from agentic.compose.process import StackError, wait_for
from agentic.config import Settings

COMPOSE_DIR = Path(stack.__file__).resolve().parent


def _all_ready(settings: Settings) -> bool:
    return all(svc.ready(settings) for svc in stack.SERVICES.values())


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        return bool(client.ping())
    except Exception:  # no SDK, no socket, no permission: no Docker engine for us
        return False


@contextlib.contextmanager
def _docker_services(settings: Settings) -> Iterator[Settings]:
    from testcontainers.compose import DockerCompose

    with DockerCompose(str(COMPOSE_DIR), compose_file_name="docker-compose.yml", wait=True):
        if not wait_for(lambda: _all_ready(settings), 300.0, interval=2.0):
            raise RuntimeError("docker compose started, but the services did not answer within 300 s")
        yield settings


@contextlib.contextmanager
def _native_services(settings: Settings, state_dir: Path) -> Iterator[Settings]:
    own = dataclasses.replace(settings, state_dir=state_dir)
    try:
        stack.up(own)
    except StackError as exc:
        stack.down(own)
        raise RuntimeError(f"the native launcher could not start the services:\n{exc}") from exc
    try:
        yield own
    finally:
        stack.down(own)


@pytest.fixture(scope="session")
def services_origin() -> dict[str, str]:
    """How ``services`` obtained the services: {"origin": "running" | "docker" | "native"}."""
    return {}


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory, services_origin: dict[str, str]) -> Iterator[Settings]:
    settings = Settings.from_env()
    if _all_ready(settings):
        services_origin["origin"] = "running"
        yield settings
    elif _docker_answers():
        services_origin["origin"] = "docker"
        with _docker_services(settings) as ready:
            yield ready
    else:
        services_origin["origin"] = "native"
        with _native_services(settings, tmp_path_factory.mktemp("agentic-state")) as ready:
            yield ready
