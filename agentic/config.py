"""Where the services are and where the project keeps its files: one frozen object, read once.

Every process builds a `Settings` in its composition root (``Settings.from_env()``) and passes it
down; nothing below reads the environment itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agentic-infra"


@dataclass(frozen=True, slots=True)
class Settings:
    """Addresses of the services and the project's folders.

    - ``cache_dir``: downloaded jars, built binaries; shared by every checkout of the user
      (``AGENTIC_CACHE_DIR``, default ``~/.cache/agentic-infra``).
    - ``state_dir``: data and logs of the services this checkout started
      (``AGENTIC_STATE_DIR``, default ``.agentic/`` in the working directory, git-ignored).
    """

    kafka_bootstrap: str = "127.0.0.1:9092"
    registry_url: str = "http://127.0.0.1:8081/apis/ccompat/v7"
    weaviate_http_port: int = 8080
    weaviate_grpc_port: int = 50051
    weaviate_host: str = "127.0.0.1"
    clickhouse_url: str | None = None
    cache_dir: Path = field(default_factory=_default_cache)
    state_dir: Path = Path(".agentic")
    log_format: str = "console"

    @property
    def weaviate_url(self) -> str:
        return f"http://{self.weaviate_host}:{self.weaviate_http_port}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        d = cls()
        return cls(
            kafka_bootstrap=e.get("AGENTIC_KAFKA_BOOTSTRAP", d.kafka_bootstrap),
            registry_url=e.get("AGENTIC_REGISTRY_URL", d.registry_url),
            weaviate_host=e.get("AGENTIC_WEAVIATE_HOST", d.weaviate_host),
            weaviate_http_port=int(e.get("AGENTIC_WEAVIATE_HTTP_PORT", d.weaviate_http_port)),
            weaviate_grpc_port=int(e.get("AGENTIC_WEAVIATE_GRPC_PORT", d.weaviate_grpc_port)),
            clickhouse_url=e.get("AGENTIC_CLICKHOUSE_URL") or None,
            cache_dir=Path(e.get("AGENTIC_CACHE_DIR", str(d.cache_dir))).expanduser(),
            state_dir=Path(e.get("AGENTIC_STATE_DIR", str(d.state_dir))).expanduser().resolve(),
            log_format=e.get("AGENTIC_LOG_FORMAT", d.log_format),
        )
