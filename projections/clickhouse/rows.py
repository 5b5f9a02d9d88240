"""Pure mapping from one consumed record to the rows it contributes to each ClickHouse table.

No I/O, no clock: the same record always gives the same rows, which is what makes a rebuild comparable
with the live tables. The input event is the JSON form of an Avro event (``{"envelope": {...}, ...}``,
enums as their symbol, timestamps as epoch milliseconds). Column order follows `COLUMNS`, which matches
``sql/001_tables.sql`` (checked by an integration test against the real engine).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Row = tuple[Any, ...]
Event = Mapping[str, Any]

UNDECODABLE = "Undecodable"

# Shared by every typed table: the source position and the envelope.
PREFIX = ("topic", "partition", "offset", "idx", "event_id", "event_type", "occurred_at_ms",
          "tenant", "correlation_id", "causation_id")

COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("topic", "partition", "offset", "event_id", "event_type", "occurred_at_ms", "tenant",
               "source", "correlation_id", "causation_id", "key", "payload"),
    "task_events": (*PREFIX, "task_id", "state", "queue", "reason", "detail", "priority", "preemptible",
                    "pods", "gpu_milli", "cpu_milli", "memory_mib", "node_ids", "wait_ms", "score"),
    "allocations": (*PREFIX, "task_id", "queue", "member", "replica", "node_id", "gpu_indexes",
                    "gpu_count", "gpu_milli", "cpu_milli", "memory_mib", "score", "score_breakdown",
                    "policy", "policy_version", "wait_ms"),
    "node_events": (*PREFIX, "node_id", "cpu_milli", "memory_mib", "gpu_count", "gpu_model", "gpu_models",
                    "gpu_memory_mib", "rack", "zone", "healthy", "cordoned", "removed", "reason"),
    "node_heartbeats": (*PREFIX, "node_id", "cpu_load", "memory_used_mib", "gpu_utilization",
                        "gpu_util_avg"),
    "queue_configs": (*PREFIX, "queue", "weight", "priority", "quotas"),
    "tool_calls": (*PREFIX, "tool_call_id", "agent_id", "runtime_id", "task_id", "tool_name", "decision",
                   "reason", "policy_id", "status", "exit_code", "duration_ms", "evaluation_ms", "error"),
    "memory_ops": (*PREFIX, "memory_id", "agent_id", "session_id", "memory_type", "importance", "detail",
                   "related_ids"),
    "model_events": (*PREFIX, "request_id", "model_id", "agent_id", "task_id", "status", "policy", "reason",
                     "candidates", "input_tokens", "output_tokens", "cost_usd_micros", "latency_ms"),
    "workflow_events": (*PREFIX, "workflow_id", "step_id", "attempt", "status", "duration_ms", "error"),
}
TABLES = tuple(COLUMNS)
TYPED_TABLES = tuple(t for t in TABLES if t != "events")


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One Kafka record as the projector saw it: its position, key, and decoded event (or why not)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    event: Event | None
    error: str | None = None


# ------------------------------------------------------------------------------------------ raw row


def number_text(value: float | None) -> str:
    """A float as ClickHouse's ``toString(Float64)`` writes it (shortest round-trip digits, positional, no
    trailing ``.0``), so the in-engine mapping can produce the same text; None as ``None``."""
    if value is None:
        return "None"
    text = format(Decimal(repr(float(value))), "f")
    return text[:-2] if text.endswith(".0") else text


def payload(event: Event) -> dict[str, Any]:
    """The event without its envelope. The sink writes it as compact JSON with sorted keys (deterministic);
    ClickHouse stores that JSON text verbatim in the String column `payload`."""
    body = dict(event)  # a C-level copy, then one deletion: cheaper than filtering every key
    body.pop("envelope", None)
    return body


def raw_row(rec: SourceRecord) -> Row:
    if rec.event is None:
        key = rec.key.decode("utf-8", "replace") if rec.key is not None else ""
        return (rec.topic, rec.partition, rec.offset, "", UNDECODABLE, 0, "", "", "", None, key,
                {"error": rec.error or "undecodable"})
    return event_row(rec.topic, rec.partition, rec.offset, rec.key, rec.event)


def event_row(topic: str, partition: int, offset: int, key: bytes | None, event: Event) -> Row:
    """The raw row of a decoded event (`raw_row` without building a `SourceRecord`: the projector's hot path)."""
    env = event["envelope"]
    return (topic, partition, offset, str(env["event_id"]), env["event_type"], int(env["occurred_at"]),
            env["tenant"], env["source"], env["correlation_id"], env.get("causation_id"),
            key.decode("utf-8", "replace") if key is not None else "", payload(event))


def prefix(rec: SourceRecord, idx: int = 0) -> Row:
    assert rec.event is not None
    env = rec.event["envelope"]
    return (rec.topic, rec.partition, rec.offset, idx, str(env["event_id"]), env["event_type"],
            int(env["occurred_at"]), env["tenant"], env["correlation_id"], env.get("causation_id"))


# ---------------------------------------------------------------------------------- task lifecycle


def _task_row(rec: SourceRecord, ev: Event, state: str, *, queue: str = "", reason: str = "",
              detail: str = "", priority: int = 0, preemptible: bool = False, pods: int = 0,
              gpu_milli: int = 0, cpu_milli: int = 0, memory_mib: int = 0, node_ids: tuple[str, ...] = (),
              wait_ms: int | None = None, score: float | None = None) -> Row:
    return (*prefix(rec), ev["task_id"], state, queue, reason, detail, priority, int(preemptible), pods,
            gpu_milli, cpu_milli, memory_mib, list(node_ids), wait_ms, score)


def member_gpu_milli(member: Event) -> int:
    """GPU-milli one replica asks for: `gpu_milli` is the share of EACH of its `gpu_count` GPUs."""
    return int(member["gpu_count"]) * int(member["gpu_milli"])


def task_submitted(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    members = ev["members"]
    pods = sum(int(m["replicas"]) for m in members)
    return {"task_events": [_task_row(
        rec, ev, "SUBMITTED", queue=ev["queue"], priority=int(ev["priority"]),
        preemptible=bool(ev["preemptible"]), pods=pods,
        detail=f"{ev['workload_type']} topology={ev['topology']} gpu_models={','.join(ev['gpu_models'])}",
        gpu_milli=sum(member_gpu_milli(m) * int(m["replicas"]) for m in members),
        cpu_milli=sum(int(m["cpu_milli"]) * int(m["replicas"]) for m in members),
        memory_mib=sum(int(m["memory_mib"]) * int(m["replicas"]) for m in members))]}


def placement_row(rec: SourceRecord, ev: Event, idx: int, p: Event) -> Row:
    gpus = p["gpus"]
    return (*prefix(rec, idx), ev["task_id"], ev["queue"], p["member"], int(p["replica"]), p["node_id"],
            [int(g["index"]) for g in gpus], len(gpus), sum(int(g["milli"]) for g in gpus),
            int(p["cpu_milli"]), int(p["memory_mib"]), float(ev["score"]),
            {str(k): float(v) for k, v in ev["score_breakdown"].items()}, ev["policy"],
            ev["policy_version"], int(ev["wait_ms"]))


def task_allocated(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    placements = ev["placements"]
    rows = [placement_row(rec, ev, i, p) for i, p in enumerate(placements)]
    nodes = tuple(dict.fromkeys(p["node_id"] for p in placements))
    task = _task_row(rec, ev, "ALLOCATED", queue=ev["queue"], pods=len(placements),
                     gpu_milli=sum(r[COLUMNS["allocations"].index("gpu_milli")] for r in rows),
                     cpu_milli=sum(int(p["cpu_milli"]) for p in placements),
                     memory_mib=sum(int(p["memory_mib"]) for p in placements),
                     node_ids=nodes, wait_ms=int(ev["wait_ms"]), score=float(ev["score"]),
                     detail=f"policy={ev['policy']}@{ev['policy_version']}")
    return {"task_events": [task], "allocations": rows}


def task_pending(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    short = ",".join(f"{k}={v}" for k, v in sorted(ev["shortfall"].items()))
    near = ev.get("nearest_node")
    return {"task_events": [_task_row(rec, ev, "PENDING", queue=ev["queue"], reason=ev["reason"],
                                      detail=f"{ev['detail']} nearest={near or '-'} shortfall={short}",
                                      node_ids=(near,) if near else ())]}


def task_preempted(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return {"task_events": [_task_row(rec, ev, "PREEMPTED", reason=ev["reason"],
                                      detail=f"preemptor={ev['preemptor_task_id']}",
                                      node_ids=tuple(ev["node_ids"]))]}


def task_rejected(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return {"task_events": [_task_row(rec, ev, "REJECTED", reason=ev["reason"],
                                      detail=f"field={ev.get('field') or '-'} {ev['message']}")]}


def task_cancelled(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return {"task_events": [_task_row(rec, ev, "CANCELLED", reason=ev["reason"])]}


def task_finished(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    code = ev.get("exit_code")
    return {"task_events": [_task_row(rec, ev, "FINISHED", reason=ev["outcome"],
                                      detail="" if code is None else f"exit_code={code}")]}


def task_checkpoint(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return {"task_events": [_task_row(rec, ev, "CHECKPOINTED", reason=ev["checkpoint_id"],
                                      detail=f"sequence={ev['sequence']}")]}


# --------------------------------------------------------------------------------------------- nodes


def _majority_model(models: list[str]) -> str:
    if not models:
        return ""
    counts: dict[str, int] = {}
    for m in models:
        counts[m] = counts.get(m, 0) + 1
    return max(sorted(counts), key=lambda m: counts[m])


def node_spec(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    gpus = ev["gpus"]
    models = [g["model"] for g in gpus]
    return {"node_events": [(*prefix(rec), ev["node_id"], int(ev["cpu_milli"]), int(ev["memory_mib"]),
                             len(gpus), _majority_model(models), models,
                             sum(int(g["memory_mib"]) for g in gpus), ev["rack"], ev["zone"],
                             int(bool(ev["healthy"])), int(bool(ev["cordoned"])), 0, "")]}


def node_removed(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return {"node_events": [(*prefix(rec), ev["node_id"], 0, 0, 0, "", [], 0, "", "", 0, 1, 1,
                             ev["reason"])]}


def node_heartbeat(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    util = [float(u) for u in ev["gpu_utilization"]]
    avg = sum(util) / len(util) if util else 0.0
    return {"node_heartbeats": [(*prefix(rec), ev["node_id"], float(ev["cpu_load"]),
                                 int(ev["memory_used_mib"]), util, avg)]}


def queue_configured(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    quotas = json.dumps(ev["quotas"], separators=(",", ":"), sort_keys=True)
    return {"queue_configs": [(*prefix(rec), ev["queue"], float(ev["weight"]), int(ev["priority"]), quotas)]}


# ------------------------------------------------------------------------------ tools, memory, models


def _tool_row(rec: SourceRecord, ev: Event, **cols: Any) -> dict[str, list[Row]]:
    names = COLUMNS["tool_calls"][len(PREFIX):]
    defaults: dict[str, Any] = {"agent_id": "", "runtime_id": "", "task_id": "", "tool_name": "",
                                "decision": "", "reason": "", "policy_id": "", "status": "",
                                "exit_code": None, "duration_ms": None, "evaluation_ms": None, "error": ""}
    values = {**defaults, "tool_call_id": ev["tool_call_id"], **cols}
    return {"tool_calls": [(*prefix(rec), *(values[n] for n in names))]}


def tool_requested(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _tool_row(rec, ev, agent_id=ev["agent_id"], runtime_id=ev.get("runtime_id") or "",
                     task_id=ev.get("task_id") or "", tool_name=ev["tool_name"])


def tool_decided(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _tool_row(rec, ev, decision=ev["decision"], reason=ev["reason"],
                     policy_id=f"{ev['policy_id']}@{ev['policy_version']}",
                     evaluation_ms=float(ev["evaluation_ms"]))


def tool_completed(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _tool_row(rec, ev, runtime_id=ev.get("runtime_id") or "", status=ev["status"],
                     exit_code=ev.get("exit_code"), duration_ms=int(ev["duration_ms"]),
                     error=ev.get("error") or "")


def _memory_row(rec: SourceRecord, memory_id: str, *, agent_id: str = "", session_id: str | None = None,
                memory_type: str = "", importance: float | None = None, detail: str = "",
                related: list[str] | None = None) -> dict[str, list[Row]]:
    return {"memory_ops": [(*prefix(rec), memory_id, agent_id, session_id or "", memory_type, importance,
                            detail, list(related or []))]}


def memory_written(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _memory_row(rec, ev["memory_id"], agent_id=ev["agent_id"], session_id=ev["session_id"],
                       memory_type=ev["memory_type"], importance=ev.get("importance"),
                       detail=f"chars={len(ev['content'])}", related=list(ev["source_refs"]))


def memory_accessed(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _memory_row(rec, ev["memory_id"], agent_id=ev["agent_id"], session_id=ev.get("session_id"),
                       importance=ev.get("score"), detail=f"rank={ev.get('rank')} query={ev.get('query') or ''}")


def memory_deleted(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _memory_row(rec, ev.get("memory_id") or "", session_id=ev.get("session_id"),
                       detail=f"scope={ev['scope']} by={ev['requested_by']} {ev['reason']}")


def memory_consolidated(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _memory_row(rec, ev["result_memory_id"], session_id=ev.get("session_id"),
                       importance=ev.get("importance"),
                       detail=f"method={ev['method']} similarity={number_text(ev.get('similarity'))}",
                       related=list(ev["source_ids"]))


def memory_expired(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _memory_row(rec, ev["memory_id"], session_id=ev.get("session_id"), detail=f"reason={ev['reason']}")


def _model_row(rec: SourceRecord, ev: Event, **cols: Any) -> dict[str, list[Row]]:
    names = COLUMNS["model_events"][len(PREFIX):]
    defaults: dict[str, Any] = {"request_id": "", "agent_id": "", "task_id": "", "status": "", "policy": "",
                                "reason": "", "candidates": 0, "input_tokens": 0, "output_tokens": 0,
                                "cost_usd_micros": 0, "latency_ms": 0}
    values = {**defaults, "model_id": ev["model_id"], **cols}
    return {"model_events": [(*prefix(rec), *(values[n] for n in names))]}


def model_registered(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _model_row(rec, ev, policy=ev["provider"], reason=ev["model_name"])


def route_decided(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    chosen = [c for c in ev["candidates"] if c["model_id"] == ev["model_id"]]
    return _model_row(rec, ev, request_id=ev["request_id"], agent_id=ev["agent_id"],
                      task_id=ev.get("task_id") or "", policy=f"{ev['policy']}@{ev['policy_version']}",
                      reason=ev["reason"], candidates=len(ev["candidates"]),
                      input_tokens=int(ev["estimated_input_tokens"]),
                      latency_ms=int(chosen[0]["estimated_latency_ms"]) if chosen else 0)


def model_call_completed(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _model_row(rec, ev, request_id=ev["request_id"], agent_id=ev["agent_id"],
                      task_id=ev.get("task_id") or "", status=ev["status"], reason=ev.get("error") or "",
                      input_tokens=int(ev["input_tokens"]), output_tokens=int(ev["output_tokens"]),
                      cost_usd_micros=int(ev["cost_usd_micros"]), latency_ms=int(ev["latency_ms"]))


def _workflow_row(rec: SourceRecord, ev: Event, step_id: str = "", attempt: int = 0, status: str = "",
                  duration_ms: int = 0, error: str = "") -> dict[str, list[Row]]:
    return {"workflow_events": [(*prefix(rec), ev["workflow_id"], step_id, attempt, status, duration_ms,
                                 error)]}


def workflow_started(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _workflow_row(rec, ev, status="STARTED")


def step_completed(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _workflow_row(rec, ev, ev["step_id"], int(ev["attempt"]), "STEP_COMPLETED", int(ev["duration_ms"]))


def step_failed(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _workflow_row(rec, ev, ev["step_id"], int(ev["attempt"]), "STEP_FAILED", int(ev["duration_ms"]),
                         f"{ev['error_type']}: {ev['error_message']}")


def workflow_completed(rec: SourceRecord, ev: Event) -> dict[str, list[Row]]:
    return _workflow_row(rec, ev, status=ev["status"], duration_ms=int(ev["duration_ms"]),
                         error=ev.get("error") or "")


MAPPERS: dict[str, Callable[[SourceRecord, Event], dict[str, list[Row]]]] = {
    "TaskSubmitted": task_submitted, "TaskAllocated": task_allocated, "TaskPending": task_pending,
    "TaskPreempted": task_preempted, "TaskRejected": task_rejected, "TaskCancelled": task_cancelled,
    "TaskFinished": task_finished, "TaskCheckpointCreated": task_checkpoint,
    "NodeRegistered": node_spec, "NodeUpdated": node_spec, "NodeRemoved": node_removed,
    "NodeHeartbeat": node_heartbeat, "QueueConfigured": queue_configured,
    "ToolCallRequested": tool_requested, "ToolCallDecided": tool_decided, "ToolCallCompleted": tool_completed,
    "MemoryWritten": memory_written, "MemoryAccessed": memory_accessed, "MemoryDeleted": memory_deleted,
    "MemoryConsolidated": memory_consolidated, "MemoryExpired": memory_expired,
    "ModelRegistered": model_registered, "RouteDecided": route_decided,
    "ModelCallCompleted": model_call_completed,
    "WorkflowStarted": workflow_started, "StepCompleted": step_completed, "StepFailed": step_failed,
    "WorkflowCompleted": workflow_completed,
}


def rows_for(rec: SourceRecord) -> dict[str, list[Row]]:
    """Every row `rec` contributes: its raw `events` row plus its typed rows (none for unknown types)."""
    out: dict[str, list[Row]] = {"events": [raw_row(rec)]}
    if rec.event is not None:
        mapper = MAPPERS.get(rec.event["envelope"]["event_type"])
        if mapper is not None:
            out.update(mapper(rec, rec.event))
    return out
