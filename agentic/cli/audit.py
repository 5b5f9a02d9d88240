"""`agentic audit task|tool-call|memory ID`: the causal chain of events behind one subject.

The chain is every event that names the subject or shares a correlation id with one that does, plus the
events that caused them (causation ids), printed as a tree in log order with each decision's reasons:
score breakdowns of allocations, pending reasons with the nearest miss, preemption victims, policy
decisions of tool calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click

from agentic.config import Settings
from agentic.connectors.clickhouse import SqlPort, connect_sql

SUBJECT_FIELDS = {"task": "task_id", "tool-call": "tool_call_id", "memory": "memory_id"}
COLS = "event_id, event_type, occurred_at, topic, partition, offset, correlation_id, causation_id, payload"


@dataclass(frozen=True, slots=True)
class Node:
    event_id: str
    event_type: str
    occurred_at: str
    position: str
    correlation_id: str
    causation_id: str | None
    payload: dict[str, Any]


def chain(port: SqlPort, field_name: str, subject_id: str) -> list[Node]:
    """Events naming the subject, their correlated events, and their causes (one level up)."""
    named = f"JSONExtractString(payload, '{field_name}') = {{id:String}}"
    sql = (f"SELECT {COLS} FROM agentic.events WHERE {named} OR correlation_id IN "
           f"(SELECT correlation_id FROM agentic.events WHERE {named}) ORDER BY occurred_at_ms, topic, offset")
    nodes = [_node(r) for r in port.query(sql, {"id": subject_id}).rows]
    known = {n.event_id for n in nodes}
    missing = sorted({n.causation_id for n in nodes if n.causation_id and n.causation_id not in known})
    if missing:
        more = port.query(f"SELECT {COLS} FROM agentic.events WHERE event_id IN {{ids:Array(String)}}",
                          {"ids": missing}).rows
        nodes = sorted([*nodes, *(_node(r) for r in more)], key=lambda n: (n.occurred_at, n.position))
    return nodes


def _node(row: tuple[Any, ...]) -> Node:
    eid, et, at, topic, partition, offset, corr, cause, payload = row
    return Node(str(eid), str(et), str(at), f"{topic}[{partition}]@{offset}", str(corr),
                str(cause) if cause else None, json.loads(payload))


def explain(node: Node) -> str:
    """One line of reasons for a decision event; the key fields for others."""
    p = node.payload
    match node.event_type:
        case "TaskAllocated":
            nodes = sorted({pl["node_id"] for pl in p["placements"]})
            parts = ", ".join(f"{k}={v:.4g}" for k, v in sorted(p["score_breakdown"].items()))
            return (f"on {','.join(nodes)} score={p['score']:.4g} ({parts}) policy={p['policy']}@"
                    f"{p['policy_version']} waited {p['wait_ms']} ms")
        case "TaskPending":
            short = ", ".join(f"{k}={v}" for k, v in sorted(p["shortfall"].items()))
            return f"reason={p['reason']}: {p['detail']} nearest={p.get('nearest_node') or '-'} shortfall[{short}]"
        case "TaskPreempted":
            return f"for {p['preemptor_task_id']} on {','.join(p['node_ids'])}: {p['reason']}"
        case "TaskRejected":
            return f"reason={p['reason']} field={p.get('field') or '-'}: {p['message']}"
        case "ToolCallDecided":
            return f"{p['decision']} by {p['policy_id']}@{p['policy_version']}: {p['reason']}"
        case _:
            keys = ("task_id", "queue", "node_id", "tool_name", "status", "outcome", "memory_id", "reason")
            return " ".join(f"{k}={p[k]}" for k in keys if k in p and p[k] not in (None, ""))


def render_tree(nodes: list[Node]) -> list[str]:
    ids = {n.event_id for n in nodes}
    children: dict[str | None, list[Node]] = {}
    for n in nodes:
        parent = n.causation_id if n.causation_id in ids else None
        children.setdefault(parent, []).append(n)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for n in children.get(parent, []):
            lines.append(f"{'  ' * depth}{'└─ ' if depth else ''}{n.occurred_at} {n.event_type} "
                         f"{n.event_id[:8]} {n.position}  {explain(n)}")
            walk(n.event_id, depth + 1)

    walk(None, 0)
    return lines


@click.command("audit")
@click.argument("kind", type=click.Choice(sorted(SUBJECT_FIELDS)))
@click.argument("subject_id")
@click.option("--json", "as_json", is_flag=True, help="Print the chain as JSON objects.")
@click.pass_obj
def audit(settings: Settings, kind: str, subject_id: str, as_json: bool) -> None:
    """Print the causal chain of a task, tool call or memory, with every decision's reasons."""
    port = connect_sql(settings)
    try:
        nodes = chain(port, SUBJECT_FIELDS[kind], subject_id)
    finally:
        port.close()
    if not nodes:
        raise click.ClickException(f"no event names {SUBJECT_FIELDS[kind]}={subject_id!r} in the projection "
                                   "(is the projector caught up? `agentic projector status`)")
    if as_json:
        for n in nodes:
            click.echo(json.dumps({"event_id": n.event_id, "event_type": n.event_type, "occurred_at": n.occurred_at,
                                   "position": n.position, "causation_id": n.causation_id,
                                   "explanation": explain(n), "payload": n.payload}))
        return
    click.echo(f"{kind} {subject_id}: {len(nodes)} events")
    for line in render_tree(nodes):
        click.echo(line)
