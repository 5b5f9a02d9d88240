"""Weaviate built from the Go module proxy (``go install``) and run standalone on loopback."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agentic.config import Settings

from . import versions
from .process import PidRecord, http_get, install_atomically, require_tool, run_logged, spawn

NAME = "weaviate"
VERSION = versions.WEAVIATE
BINARY = "weaviate-server"
# Internal ports follow the HTTP port (8080 -> gossip 8180, data 8181, raft 8182, raft RPC 8183), so
# a second instance on another HTTP port (tests, another checkout) does not collide with the first.
INTERNAL_PORT_OFFSET = 100
NODE_NAME = "agentic-node-1"  # stable: Weaviate's schema (RAFT) is tied to the node name


def install_dir(settings: Settings) -> Path:
    return settings.cache_dir / f"weaviate-{VERSION}"


def binary(settings: Settings) -> Path:
    return install_dir(settings) / "bin" / BINARY


def build_env(gobin: Path, base: dict[str, str]) -> dict[str, str]:
    """Environment of ``go install``: static binary, into ``gobin``; Go's own caches stay per-user."""
    return {**base, "CGO_ENABLED": "0", "GOBIN": str(gobin), "GOFLAGS": "-buildvcs=false"}


def install(settings: Settings) -> bool:
    """Build weaviate-server once with the Go toolchain; minutes on 2 cores, then cached."""
    go = require_tool(NAME, "go", "install Go 1.26+ (https://go.dev/doc/install or your distribution)")
    log_file = settings.state_dir / "logs" / "install-weaviate.log"

    def build(tmp: Path) -> None:
        package = f"{versions.WEAVIATE_MODULE}/cmd/{BINARY}@v{VERSION}"
        run_logged(NAME, "install (go install)", [go, "install", package], log_file,
                   cwd=tmp, env=build_env(tmp / "bin", dict(os.environ)))

    return install_atomically(install_dir(settings), build)


def server_env(settings: Settings, data: Path) -> dict[str, str]:
    """Environment of a standalone single-node Weaviate with anonymous access and no vectorizer."""
    gossip = settings.weaviate_http_port + INTERNAL_PORT_OFFSET
    raft = gossip + 2  # with CLUSTER_IN_LOCALHOST the server dials raft + 1 for internal RPC
    return {
        "PERSISTENCE_DATA_PATH": str(data),
        "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true",
        "DEFAULT_VECTORIZER_MODULE": "none",
        "CLUSTER_HOSTNAME": NODE_NAME,
        "CLUSTER_IN_LOCALHOST": "true",
        "CLUSTER_GOSSIP_BIND_PORT": str(gossip),
        "CLUSTER_DATA_BIND_PORT": str(gossip + 1),
        "RAFT_PORT": str(raft),
        "RAFT_INTERNAL_RPC_PORT": str(raft + 1),
        "RAFT_BOOTSTRAP_EXPECT": "1",
        "RAFT_JOIN": f"{NODE_NAME}:{raft}",
        "GRPC_PORT": str(settings.weaviate_grpc_port),
        "DISABLE_TELEMETRY": "true",
        "GO_PROFILING_DISABLE": "true",
        "QUERY_DEFAULTS_LIMIT": "25",
        # Vector (HNSW) inserts run in the background: a batch returns once objects and the inverted
        # index (BM25, filters) are written. A queued object is NOT yet found by vector search
        # (measured on 1.39.3), so the memory write path waits for its tenants' vector queue
        # (WeaviateMemoryStore.wait_indexed). Upserts acknowledged ~2-4x faster, indexed in bulk.
        "ASYNC_INDEXING": "true",
    }


def launch(settings: Settings) -> PidRecord:
    data = settings.state_dir / "weaviate" / "data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [str(binary(settings)), "--host", settings.weaviate_host,
            "--port", str(settings.weaviate_http_port), "--scheme", "http"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **server_env(settings, data)}
    return spawn(NAME, argv, state_dir=settings.state_dir, version=VERSION, cwd=data.parent, env=env)


def ready(settings: Settings) -> bool:
    response = http_get(f"{settings.weaviate_url}/v1/.well-known/ready")
    return response is not None and int(response.status_code) == 200


def info(settings: Settings) -> dict[str, Any]:
    """What Weaviate reports in /v1/meta: its version and modules."""
    out: dict[str, Any] = {"address": settings.weaviate_url, "grpc_port": settings.weaviate_grpc_port,
                           "up": ready(settings)}
    meta = http_get(f"{settings.weaviate_url}/v1/meta") if out["up"] else None
    if meta is not None and meta.status_code == 200:
        body = meta.json()
        out.update(version=body.get("version"), hostname=body.get("hostname"),
                   modules=sorted(body.get("modules") or {}))
    return out
