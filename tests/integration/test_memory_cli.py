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


def test_search_queries_file_runs_every_search_in_order_in_one_process(services: Settings, tmp_path: Path) -> None:
    conv = build_dataset(1, seed=12)[0]
    tenant, other = f"cli-{uuid.uuid4().hex[:8]}", f"cli-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "memories.jsonl"
    path.write_text("".join(json.dumps({**line, "tenant": tenant}) + "\n" for line in memory_lines((conv,))))
    assert _run(services, "write", "--file", str(path)).exit_code == 0
    questions = [q for q in conv.questions if q.category == "single-hop"][:6]
    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps({"id": q.question_id, "tenant": tenant, "query": q.text}) + "\n"
                               for q in questions)
                       + json.dumps({"tenant": other, "query": questions[0].text, "k": 3, "mode": "keyword"}) + "\n")
    out = _run(services, "search", "--queries", str(queries), "--k", "5")
    assert out.exit_code == 0, out.output
    rows = [json.loads(x) for x in out.output.strip().splitlines() if x.startswith("{")]
    assert [r.get("id") for r in rows] == [q.question_id for q in questions] + [None]
    assert all(r["k"] == 5 and len(r["results"]) == 5 for r in rows[:-1])  # the option is every line's default
    single = json.loads(_run(services, "search", "--tenant", tenant, "--query", questions[1].text, "--k", "5",
                             "--json").output.strip().splitlines()[-1])
    assert [r["memory_id"] for r in rows[1]["results"]] == [r["memory_id"] for r in single["results"]]
    assert rows[-1]["tenant"] == other and rows[-1]["k"] == 3 and rows[-1]["results"] == []  # isolated
    _run(services, "delete", "--tenant", tenant, "--all")


@pytest.mark.parametrize(("line", "error"), [
    ({"query": "q"}, "line 2: tenant: required"),
    ({"tenant": "t", "query": "q", "k": 0}, "line 2: k: an integer from 1 to 1000"),
    ({"tenant": "t", "query": "q", "mode": "fuzzy"}, "line 2: mode: one of"),
    ({"tenant": "t", "query": "q", "sesion": "s1"}, "line 2: sesion: unknown field"),
])
def test_a_bad_queries_line_is_named_before_any_search_runs(services: Settings, tmp_path: Path,
                                                            line: dict[str, Any], error: str) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"tenant": "t", "query": "fine"}) + "\n" + json.dumps(line) + "\n")
    out = _run(services, "search", "--queries", str(queries))
    assert out.exit_code != 0 and error in out.output and '"results"' not in out.output


def test_a_search_of_an_unknown_tenant_finds_nothing_and_creates_nothing(services: Settings) -> None:
    from agentic.connectors.weaviate import WeaviateMemoryStore, weaviate_tenant

    tenant = f"ghost-{uuid.uuid4().hex[:8]}"
    out = _run(services, "search", "--tenant", tenant, "--query", "anything at all", "--json")
    assert out.exit_code == 0 and json.loads(out.output.strip().splitlines()[-1])["results"] == []
    store = WeaviateMemoryStore.connect(services, 256)
    try:
        real = store._client.collections.use(store.current_target())
        assert not real.tenants.exists(weaviate_tenant(tenant))
        assert store.count(tenant) == 0 and store.chain(tenant, "s1") == [] and store.delete(tenant, ["x"]) == 0
        assert not real.tenants.exists(weaviate_tenant(tenant))  # reads and deletes create nothing either
    finally:
        store.close()
