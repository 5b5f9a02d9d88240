"""`agentic memory write|search|delete` end to end against the real Weaviate (the checker's path)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agentic.bench.memory_data import build_dataset, memory_lines
from agentic.cli.main import cli
from agentic.config import Settings

pytestmark = pytest.mark.integration


def _env(settings: Settings) -> dict[str, str]:
    return {"AGENTIC_WEAVIATE_HOST": settings.weaviate_host,
            "AGENTIC_WEAVIATE_HTTP_PORT": str(settings.weaviate_http_port),
            "AGENTIC_WEAVIATE_GRPC_PORT": str(settings.weaviate_grpc_port)}


def _run(settings: Settings, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["memory", *args], env=_env(settings), catch_exceptions=False)
    return result


def test_write_file_then_search_json_finds_the_evidence(services: Settings, tmp_path: Path) -> None:
    conv = build_dataset(1, seed=11)[0]
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "memories.jsonl"
    path.write_text("".join(json.dumps({**line, "tenant": tenant}) + "\n" for line in memory_lines((conv,))))
    written = _run(services, "write", "--file", str(path), "--json")
    assert written.exit_code == 0, written.output
    report = json.loads(written.output.strip().splitlines()[-1])
    assert report["received"] == len(conv.turns) and not report["failed"]
    found = 0
    questions = [q for q in conv.questions if q.category == "single-hop"]
    for q in questions:
        out = _run(services, "search", "--tenant", tenant, "--query", q.text, "--k", "10", "--json")
        assert out.exit_code == 0, out.output
        results = json.loads(out.output.strip().splitlines()[-1])["results"]
        assert all({"memory_id", "content", "score", "source_memory_ids"} <= set(r) for r in results)
        found += any(e in r["source_memory_ids"] for r in results for e in q.evidence)
    assert found / len(questions) >= 0.8  # single-hop questions share key words with their evidence
    deleted = _run(services, "delete", "--tenant", tenant, "--all")
    assert deleted.exit_code == 0, deleted.output
    after = _run(services, "search", "--tenant", tenant, "--query", questions[0].text, "--json")
    assert json.loads(after.output.strip().splitlines()[-1])["results"] == []


def test_bad_file_writes_nothing_and_names_line_and_field(services: Settings, tmp_path: Path) -> None:
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"tenant": tenant, "content": "fine"}) + "\n"
                    + json.dumps({"tenant": tenant, "content": "x", "memory_type": "DREAM"}) + "\n")
    out = _run(services, "write", "--file", str(path))
    assert out.exit_code == 1 and "line 2: memory_type" in out.output
    search = _run(services, "search", "--tenant", tenant, "--query", "fine", "--json")
    assert json.loads(search.output.strip().splitlines()[-1])["results"] == []
