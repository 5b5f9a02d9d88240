"""`agentic memory write|search|delete`: the memory service from the command line.

Input of ``write --file``: JSON lines, one memory per line (format: ``agentic.memory.lines``), e.g.
``{"tenant": "acme", "session_id": "s1", "memory_id": "m1", "content": "Alice likes tea"}``.
The whole file is validated before anything is written. ``search --json`` prints
``{"tenant", "query", "mode", "k", "results": [{"memory_id", "content", "score", "session_id",
"memory_type", "created_at", "source_memory_ids", "source_event_ids", "metadata", ...}]}``;
``search --queries FILE`` runs one search per JSON line (``{"id", "tenant", "query", ...}``) in one process
and prints one such object per line, in order, with the line's ``id`` when it has one.

These commands run the write path in this process (validate -> embed -> consolidation core ->
Weaviate); consolidation state therefore spans one invocation.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click

from agentic.config import Settings
from agentic.connectors.embeddings import DEFAULT_EMBEDDER, load_embedder
from agentic.connectors.weaviate import DEFAULT_ALPHA, MODES, WeaviateMemoryStore
from agentic.memory import MemoryInputError, MemoryService
from agentic.projections.weaviate.memory import MemoryProjection
from agentic.streams.memory import DeleteMemory, DeleteScope, MemoryState, apply


def _service(settings: Settings, embedder_spec: str) -> MemoryService:
    embedder = load_embedder(embedder_spec)
    store = WeaviateMemoryStore.connect(settings, embedder.dim)
    store.ensure_schema()
    return MemoryService(embedder, store)


@click.group()
def memory() -> None:
    """Write, search and delete agent memories (Weaviate, hybrid vector + BM25)."""


@memory.command("write")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="JSON lines, one memory per line.")
@click.option("--embedder", default=DEFAULT_EMBEDDER, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def write_cmd(settings: Settings, path: Path, embedder: str, as_json: bool) -> None:
    """Validate then write every memory of FILE; exit 1 if any line is invalid (nothing written)."""
    service = _service(settings, embedder)
    try:
        report = service.write_file(path)
    except MemoryInputError as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    finally:
        service.close()
    data = {"received": report.received, "stored": report.stored, "merged": report.merged,
            "rejected": [list(r) for r in report.rejected], "failed": [list(f) for f in report.failed]}
    click.echo(json.dumps(data) if as_json else
               f"{report.received} received, {report.stored} stored, {report.merged} merged, "
               f"{len(report.rejected)} rejected, {len(report.failed)} failed")
    if not report.ok:
        sys.exit(1)


@memory.command("search")
@click.option("--tenant", default=None, help="Required unless --queries gives it per line.")
@click.option("--query", default=None, help="Required unless --queries is given.")
@click.option("--queries", "queries_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="JSON lines, one search per line (tenant, query and optionally id, session, "
                                 "types, since, until, k, mode, alpha; the options are the defaults); one JSON "
                                 "result per line out, in order.")
@click.option("--session", default=None)
@click.option("--type", "types", multiple=True, help="Memory type filter (repeatable).")
@click.option("--since", type=int, default=None, help="Earliest occurred_at, ms since the epoch.")
@click.option("--until", type=int, default=None, help="Latest occurred_at, ms since the epoch.")
@click.option("--k", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--alpha", type=click.FloatRange(0, 1), default=DEFAULT_ALPHA, show_default=True,
              help="Hybrid weight of the vector side (0 = BM25 only, 1 = vector only).")
@click.option("--embedder", default=DEFAULT_EMBEDDER, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def search_cmd(settings: Settings, tenant: str | None, query: str | None, queries_path: Path | None,
               session: str | None, types: tuple[str, ...], since: int | None, until: int | None, k: int,
               mode: Any, alpha: float, embedder: str, as_json: bool) -> None:
    """Top-K memories of one tenant for QUERY, with scores and provenance; or every search of --queries."""
    defaults = {"session": session, "types": list(types), "since": since, "until": until, "k": k, "mode": mode,
                "alpha": alpha}
    if queries_path is None:
        if tenant is None or query is None:
            raise click.UsageError("give --tenant and --query, or --queries FILE")
        searches = [{"tenant": tenant, "query": query, **defaults}]
    else:
        if tenant is not None or query is not None:
            raise click.UsageError("--queries gives tenant and query per line: drop --tenant/--query")
        searches = [_search_line(obj, n, defaults) for n, obj in enumerate(_json_lines(queries_path), start=1)]
    service = _service(settings, embedder)
    try:
        for n, spec in enumerate(searches, start=1):
            try:
                hits = service.search(spec["tenant"], spec["query"], session=spec["session"], types=spec["types"],
                                      since=spec["since"], until=spec["until"], k=spec["k"], mode=spec["mode"],
                                      alpha=spec["alpha"])
            except MemoryInputError as exc:
                where = f"{queries_path} line {n}: " if queries_path is not None else ""
                raise click.ClickException(f"{where}{exc}") from exc
            _print_hits(spec, hits, as_json or queries_path is not None)
    finally:
        service.close()


SEARCH_KEYS = {"id", "tenant", "query", "session", "types", "since", "until", "k", "mode", "alpha"}


def _json_lines(path: Path) -> list[Any]:
    out: list[Any] = []
    for n, text in enumerate(path.read_text().splitlines(), start=1):
        if not text.strip():
            continue
        try:
            out.append(json.loads(text))
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{path} line {n}: not JSON ({exc.msg}); one JSON object per line") from exc
    return out


def _search_line(obj: Any, n: int, defaults: dict[str, Any]) -> dict[str, Any]:
    """One line of --queries, checked before any search runs (a bad line names its field and the rule)."""
    def bad(field: str, rule: str) -> click.ClickException:
        return click.ClickException(f"--queries line {n}: {field}: {rule}")

    if not isinstance(obj, dict):
        raise bad("line", "must be a JSON object")
    unknown = sorted(set(obj) - SEARCH_KEYS)
    if unknown:
        raise bad(unknown[0], f"unknown field; known: {', '.join(sorted(SEARCH_KEYS))}")
    spec = {**defaults, **obj}
    for field in ("tenant", "query"):
        if not isinstance(spec.get(field), str) or not spec[field].strip():
            raise bad(field, "required: non-empty text")
    if isinstance(spec["types"], str):
        spec["types"] = [spec["types"]]
    if not isinstance(spec["k"], int) or isinstance(spec["k"], bool) or not 1 <= spec["k"] <= 1000:
        raise bad("k", "an integer from 1 to 1000")
    if spec["mode"] not in MODES:
        raise bad("mode", f"one of {', '.join(MODES)}")
    if not isinstance(spec["alpha"], int | float) or not 0.0 <= float(spec["alpha"]) <= 1.0:
        raise bad("alpha", "a number from 0 to 1")
    for field in ("since", "until"):
        if spec[field] is not None and (not isinstance(spec[field], int) or isinstance(spec[field], bool)):
            raise bad(field, "ms since the epoch, an integer")
    return spec


def _print_hits(spec: dict[str, Any], hits: list[Any], as_json: bool) -> None:
    if as_json:
        results = [{**dataclasses.asdict(h), "metadata": dict(h.metadata)} for h in hits]
        head = {"id": spec["id"]} if "id" in spec else {}
        click.echo(json.dumps({**head, "tenant": spec["tenant"], "query": spec["query"], "mode": spec["mode"],
                               "k": spec["k"], "results": results}))
        return
    for rank, h in enumerate(hits, start=1):
        click.echo(f"{rank:>3}  {h.score:.3f}  {h.memory_id}  [{h.session_id}]  {h.content}")


@memory.command("delete")
@click.option("--tenant", required=True)
@click.option("--memory-id", default=None)
@click.option("--session", default=None)
@click.option("--all", "everything", is_flag=True, help="Delete every memory of the tenant.")
@click.pass_obj
def delete_cmd(settings: Settings, tenant: str, memory_id: str | None, session: str | None,
               everything: bool) -> None:
    """Delete one memory, one session or a whole tenant from the read model."""
    chosen = [x for x in (memory_id, session, everything or None) if x]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --memory-id, --session or --all")
    scope = DeleteScope.MEMORY if memory_id else DeleteScope.SESSION if session else DeleteScope.TENANT
    store = WeaviateMemoryStore.connect(settings, load_embedder(DEFAULT_EMBEDDER).dim)
    try:
        store.ensure_schema()
        _, out = apply(MemoryState(), DeleteMemory("cli", 0, tenant, scope, memory_id or session or ""))
        outcome = MemoryProjection(store).apply_outputs(out)
    finally:
        store.close()
    click.echo(f"deleted ({scope.value.lower()}): {'ok' if outcome.commit else outcome.failed}")


@memory.command("process")
@click.option("--group", default="agentic-memory-consolidator", show_default=True, help="Kafka consumer group.")
@click.option("--replay", is_flag=True, help="Rebuild from offset 0 under a new consumer group (after a restart).")
@click.option("--idle-timeout", type=float, default=None, help="Stop after this many idle seconds.")
@click.option("--embedder", default=DEFAULT_EMBEDDER, show_default=True)
@click.pass_obj
def process_cmd(settings: Settings, group: str, replay: bool, idle_timeout: float | None, embedder: str) -> None:
    """Run the consolidation processor: agentic.memory events -> core -> derived events + Weaviate."""
    import uuid

    from agentic import wiring
    from agentic.connectors.kafka import EventConsumer
    from agentic.schemas.topics import MEMORY
    from agentic.streams.memory.processor import MemoryProcessor

    model = load_embedder(embedder)
    store = WeaviateMemoryStore.connect(settings, model.dim)
    codec = wiring.codec(settings)
    consumer = EventConsumer(settings.kafka_bootstrap, f"{group}-{uuid.uuid4()}" if replay else group,
                             [MEMORY.name], codec, None)
    try:
        projection = MemoryProjection(store)
        projection.setup()
        processor = MemoryProcessor(consumer, wiring.producer(settings, codec), model, projection)
        n = processor.run(stop=lambda: False, idle_timeout=idle_timeout)
        click.echo(f"{n} memory events processed")
    finally:
        consumer.close()
        store.close()


@memory.group("checkpoint")
def checkpoint() -> None:
    """Checkpoints of long-running tasks: create, resume (latest state), summary (history)."""


def _checkpoints(settings: Settings) -> Any:
    from agentic.memory.checkpoints import Checkpoints
    from agentic.sdk import AgenticClient

    return Checkpoints(AgenticClient.connect(settings, source="memory-cli"))


def _checkpoint_json(c: Any) -> dict[str, Any]:
    return {"task_id": c.task_id, "checkpoint_id": c.checkpoint_id, "sequence": c.sequence,
            "created_at": c.created_at, "state": c.state, "intermediate_result": c.intermediate_result,
            "reflection": c.reflection, "next_steps": list(c.next_steps)}


@checkpoint.command("create")
@click.option("--tenant", required=True)
@click.option("--task", "task_id", required=True)
@click.option("--state", "state_text", required=True, help="Task state as a JSON document (or @file).")
@click.option("--result", default=None, help="Intermediate result so far.")
@click.option("--reflection", default=None)
@click.option("--next-step", "next_steps", multiple=True, help="Planned next step (repeatable, in order).")
@click.pass_obj
def checkpoint_create(settings: Settings, tenant: str, task_id: str, state_text: str, result: str | None,
                      reflection: str | None, next_steps: tuple[str, ...]) -> None:
    """Save the task's state; returns once Kafka acknowledged the checkpoint."""
    text = Path(state_text[1:]).read_text() if state_text.startswith("@") else state_text
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"state: not valid JSON ({exc.msg})") from exc
    try:
        made = _checkpoints(settings).create(tenant, task_id, state, result, reflection, next_steps)
    except MemoryInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(_checkpoint_json(made)))


@checkpoint.command("resume")
@click.option("--tenant", required=True)
@click.option("--task", "task_id", required=True)
@click.pass_obj
def checkpoint_resume(settings: Settings, tenant: str, task_id: str) -> None:
    """Print the latest checkpoint of the task as JSON (exit 1 if it has none)."""
    found = _checkpoints(settings).resume(tenant, task_id)
    if found is None:
        raise click.ClickException(f"task {task_id!r} of tenant {tenant!r} has no checkpoint")
    click.echo(json.dumps(_checkpoint_json(found)))


@checkpoint.command("summary")
@click.option("--tenant", required=True)
@click.option("--task", "task_id", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def checkpoint_summary(settings: Settings, tenant: str, task_id: str, as_json: bool) -> None:
    """Every checkpoint of the task in order: sequence, time, reflection and next steps."""
    found = _checkpoints(settings).history(tenant, task_id)
    if as_json:
        click.echo(json.dumps([_checkpoint_json(c) for c in found]))
        return
    for c in found:
        click.echo(f"#{c.sequence} {c.created_at} result={c.intermediate_result!r} "
                   f"reflection={c.reflection!r} next={list(c.next_steps)}")


@memory.command("chain")
@click.option("--tenant", required=True)
@click.option("--session", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def chain_cmd(settings: Settings, tenant: str, session: str, as_json: bool) -> None:
    """A session's memories in the order they happened, with provenance."""
    store = WeaviateMemoryStore.connect(settings, load_embedder(DEFAULT_EMBEDDER).dim)
    try:
        store.ensure_schema()
        hits = store.chain(tenant, session)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"tenant": tenant, "session": session,
                               "memories": [{**dataclasses.asdict(h), "metadata": dict(h.metadata)} for h in hits]}))
        return
    for h in hits:
        click.echo(f"{h.created_at}  {h.memory_id}  {h.content}")


@memory.command("neighbors")
@click.option("--tenant", required=True)
@click.option("--entity", required=True)
@click.option("--depth", type=click.IntRange(1, 5), default=1, show_default=True)
@click.option("--at", type=int, default=None, help="Only facts valid at this time (ms since the epoch).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def neighbors_cmd(settings: Settings, tenant: str, entity: str, depth: int, at: int | None, as_json: bool) -> None:
    """Facts (triples) around ENTITY up to DEPTH hops, read from the event log."""
    from agentic.memory.graph import neighbors, triples
    from agentic.schemas.topics import MEMORY
    from agentic.sdk import AgenticClient

    client = AgenticClient.connect(settings, source="memory-cli")
    try:
        facts = triples((c.event for c in client.tail(MEMORY.name, idle_timeout=2.0)), tenant)
    finally:
        client.close()
    edges = neighbors(facts, entity, depth, at)
    if as_json:
        click.echo(json.dumps({"tenant": tenant, "entity": entity, "edges": [dataclasses.asdict(e) for e in edges]}))
        return
    for e in edges:
        until = "now" if e.valid_to is None else e.valid_to
        click.echo(f"[{e.depth}] {e.subject} -{e.predicate}-> {e.object}  ({e.valid_from}..{until})")
