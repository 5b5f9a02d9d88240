"""Realistic, deterministic sample events of every type: for tests, the benchmarks and the
encoded history samples. ``random.Random(seed)`` only: the same seed gives the same events."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from typing import Any

from agentic import events as ev
from agentic.events import EVENT_CLASSES, Event, derived_event_id

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms
GPU_MODELS = ("H100-80GB", "A100-40GB", "L4-24GB")
TENANTS = ("acme", "globex", "initech")
WORDS = [
    "the",
    "user",
    "prefers",
    "concise",
    "answers",
    "about",
    "kubernetes",
    "scheduling",
    "and",
    "gpu",
    "quotas",
    "for",
    "training",
    "jobs",
    "in",
    "the",
    "eu-west",
    "zone",
    "while",
    "keeping",
    "costs",
    "under",
    "budget",
]


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _env(et: str, rng: random.Random, i: int) -> ev.Envelope:
    eid = str(uuid.UUID(int=rng.getrandbits(128), version=4))  # rng is seeded by (seed, type, i)
    return ev.Envelope(
        event_id=eid,
        event_type=et,
        occurred_at=T0 + i * 37,
        tenant=rng.choice(TENANTS),
        source="samples",
        correlation_id=derived_event_id("corr", str(i // 4)),
        causation_id=None if i % 3 else derived_event_id("cause", str(i)),
    )


def _node(cls: Any, rng: random.Random, i: int) -> Any:
    n_gpu = rng.choice((0, 4, 8))
    gpus = tuple(
        ev.GpuDevice(index=g, model=GPU_MODELS[i % 3], memory_mib=81_920, nvlink_domain=g // 4, healthy=True)
        for g in range(n_gpu)
    )
    return cls(
        envelope=_env(cls.EVENT_TYPE, rng, i),
        node_id=f"node-{i % 64:03d}",
        cpu_milli=64_000,
        memory_mib=512 * 1024,
        gpus=gpus,
        rack=f"rack-{i % 8}",
        zone=f"zone-{i % 2}",
        labels={"pool": "gpu" if n_gpu else "cpu", "os": "linux"},
        healthy=True,
        cordoned=False,
    )


def _task_submitted(rng: random.Random, i: int) -> ev.TaskSubmitted:
    gpu_count = rng.choice((0, 1, 8))
    milli = 0 if gpu_count == 0 else (rng.choice((250, 500, 1000)) if gpu_count == 1 else 1000)
    members = (
        ev.GangMember(
            name="worker",
            replicas=rng.randint(1, 4),
            cpu_milli=8_000,
            memory_mib=32_768,
            gpu_count=gpu_count,
            gpu_milli=milli,
        ),
        ev.GangMember(
            name="launcher", replicas=1, cpu_milli=1_000, memory_mib=2_048, gpu_count=0, gpu_milli=0
        ),
    )
    return ev.TaskSubmitted(
        envelope=_env("TaskSubmitted", rng, i),
        task_id=f"task-{i:08d}",
        queue=f"team-{i % 5}",
        priority=rng.randint(0, 100),
        workload_type=rng.choice(list(ev.WorkloadType)),
        preemptible=bool(i % 2),
        members=members,
        gpu_models=GPU_MODELS[: i % 3],
        topology=rng.choice(list(ev.TopologyRequirement)),
        expected_duration_ms=None if i % 4 else 3_600_000,
    )


def _task_allocated(rng: random.Random, i: int) -> ev.TaskAllocated:
    placements = tuple(
        ev.Placement(
            member="worker",
            replica=r,
            node_id=f"node-{(i + r) % 64:03d}",
            gpus=tuple(ev.GpuShare(index=g, milli=1000) for g in range(2)),
            cpu_milli=8_000,
            memory_mib=32_768,
        )
        for r in range(2)
    )
    return ev.TaskAllocated(
        envelope=_env("TaskAllocated", rng, i),
        task_id=f"task-{i:08d}",
        queue="team-1",
        placements=placements,
        score=rng.random(),
        score_breakdown={"binpack": 0.4, "topology": 0.3, "fairness": 0.2},
        policy="gang-binpack",
        policy_version="1.0.0",
        wait_ms=rng.randint(0, 60_000),
    )


def _memory_written(rng: random.Random, i: int) -> ev.MemoryWritten:
    return ev.MemoryWritten(
        envelope=_env("MemoryWritten", rng, i),
        memory_id=f"mem-{i:08d}",
        agent_id=f"agent-{i % 7}",
        session_id=f"sess-{i % 31}",
        memory_type=rng.choice(list(ev.MemoryType)),
        content=_text(rng, 30),
        metadata={"channel": "chat", "lang": "en"},
        importance=None if i % 2 else 0.5,
        ttl_ms=None if i % 5 else 86_400_000,
        source_refs=(f"msg-{i}",),
        embedding=None if i % 10 else tuple(float(k % 7) / 8 for k in range(16)),
    )


def _simple(et: str, rng: random.Random, i: int) -> Event:
    env = _env(et, rng, i)
    t, m = f"task-{i:08d}", f"mem-{i:08d}"
    if et == "NodeRemoved":
        return ev.NodeRemoved(envelope=env, node_id=f"node-{i % 64:03d}", reason="decommissioned")
    if et == "NodeHeartbeat":
        return ev.NodeHeartbeat(
            envelope=env,
            node_id=f"node-{i % 64:03d}",
            cpu_load=rng.random(),
            memory_used_mib=rng.randint(0, 500_000),
            gpu_utilization=tuple(rng.random() for _ in range(8)),
        )
    if et == "QueueConfigured":
        quotas = (
            ev.ResourceQuota(resource="cpu_milli", guaranteed=200_000, borrow_limit=None),
            ev.ResourceQuota(
                resource="gpu_milli", gpu_model="H100-80GB", guaranteed=16_000, borrow_limit=8_000
            ),
        )
        return ev.QueueConfigured(
            envelope=env, queue=f"team-{i % 5}", weight=1.0 + i % 3, priority=i % 10, quotas=quotas
        )
    if et == "TaskCancelled":
        return ev.TaskCancelled(envelope=env, task_id=t, reason="user request")
    if et == "TaskFinished":
        return ev.TaskFinished(
            envelope=env,
            task_id=t,
            outcome=rng.choice(list(ev.TaskOutcome)),
            exit_code=rng.choice((None, 0, 1)),
        )
    if et == "TaskPending":
        return ev.TaskPending(
            envelope=env,
            task_id=t,
            queue="team-2",
            reason=rng.choice(list(ev.PendingReason)),
            detail="needs 8 GPUs in one NVLink island",
            nearest_node="node-007",
            shortfall={"gpu_milli": 4000, "cpu_milli": 0},
        )
    if et == "TaskPreempted":
        return ev.TaskPreempted(
            envelope=env,
            task_id=t,
            preemptor_task_id=f"task-{i + 1:08d}",
            node_ids=("node-001", "node-002"),
            reason="higher priority gang",
        )
    if et == "TaskRejected":
        return ev.TaskRejected(
            envelope=env,
            task_id=t,
            reason=ev.RejectReason.NEVER_FITS,
            field="members[0].gpu_count",
            message="no node has 16 GPUs; ask for at most 8",
        )
    if et == "MemoryAccessed":
        return ev.MemoryAccessed(
            envelope=env,
            memory_id=m,
            agent_id="agent-1",
            session_id="sess-1",
            query="gpu quota",
            rank=1 + i % 10,
            score=rng.random(),
        )
    if et == "MemoryDeleted":
        return ev.MemoryDeleted(
            envelope=env,
            scope=ev.DeleteScope.MEMORY,
            memory_id=m,
            reason="user request",
            requested_by="user-42",
        )
    if et == "MemoryConsolidated":
        return ev.MemoryConsolidated(
            envelope=env,
            result_memory_id=m,
            source_ids=(f"mem-a{i}", f"mem-b{i}"),
            source_event_ids=(derived_event_id("a", str(i)),),
            merged_content=_text(rng, 20),
            method=ev.ConsolidationMethod.NEAR_DUPLICATE,
            similarity=0.93,
            importance=0.6,
            session_id="sess-3",
        )
    if et == "MemoryExpired":
        return ev.MemoryExpired(envelope=env, memory_id=m, reason=ev.ExpiryReason.TTL, session_id=None)
    if et == "TripleAsserted":
        return ev.TripleAsserted(
            envelope=env,
            triple_id=f"tr-{i}",
            subject="user",
            predicate="prefers",
            object="concise answers",
            confidence=0.8,
            valid_from_ms=T0,
            valid_to_ms=None,
            source_memory_id=m,
        )
    if et == "TaskCheckpointCreated":
        return ev.TaskCheckpointCreated(
            envelope=env,
            task_id=t,
            checkpoint_id=f"ck-{i}",
            sequence=1 + i % 9,
            state=json.dumps({"step": i % 9, "notes": _text(rng, 8)}),
            intermediate_result=_text(rng, 10),
            reflection=None,
            next_steps=("search docs", "summarise"),
        )
    if et == "RuntimeCreated":
        return ev.RuntimeCreated(
            envelope=env,
            runtime_id=f"rt-{i}",
            agent_id="agent-1",
            sandbox_kind=ev.SandboxKind.BUBBLEWRAP,
            image="/opt/rootfs/python3.11",
            cpu_milli=1000,
            memory_mib=512,
            network_allowed=False,
            startup_ms=5.2,
        )
    if et == "ToolCallRequested":
        return ev.ToolCallRequested(
            envelope=env,
            tool_call_id=f"tc-{i}",
            agent_id="agent-1",
            runtime_id=f"rt-{i}",
            session_id="sess-1",
            task_id=None,
            tool_name="python",
            arguments=json.dumps({"code": "print(1+1)"}),
            timeout_ms=10_000,
        )
    if et == "ToolCallDecided":
        return ev.ToolCallDecided(
            envelope=env,
            tool_call_id=f"tc-{i}",
            decision=ev.PolicyDecision.ALLOW,
            reason="rule allow-python-sandboxed",
            policy_id="default",
            policy_version="3",
            evaluation_ms=0.41,
        )
    if et == "ToolCallCompleted":
        return ev.ToolCallCompleted(
            envelope=env,
            tool_call_id=f"tc-{i}",
            runtime_id=f"rt-{i}",
            status=ev.ToolCallStatus.SUCCEEDED,
            exit_code=0,
            output="2\n",
            output_truncated=False,
            error=None,
            duration_ms=42,
            cpu_ms=30,
            max_rss_mib=24,
        )
    if et == "SecurityEvent":
        return ev.SecurityEvent(
            envelope=env,
            kind=ev.SecurityEventKind.NETWORK_BLOCKED,
            severity=ev.Severity.MEDIUM,
            agent_id="agent-1",
            runtime_id=f"rt-{i}",
            tool_call_id=None,
            description="connect() to 10.0.0.1:443 blocked",
            attributes={"syscall": "connect"},
        )
    if et == "ModelRegistered":
        return ev.ModelRegistered(
            envelope=env,
            model_id=f"model-{i % 4}",
            provider="vllm",
            model_name="llama-3.1-8b",
            endpoint="http://127.0.0.1:8000/v1",
            context_window_tokens=131_072,
            input_cost_usd_micros_per_mtok=50_000,
            output_cost_usd_micros_per_mtok=150_000,
            capabilities=("tools", "json"),
            quality_score=0.7,
        )
    if et == "RouteDecided":
        cands = tuple(
            ev.RouteCandidate(
                model_id=f"model-{k}",
                eligible=k != 3,
                score=1.0 / (k + 1),
                estimated_cost_usd_micros=100 * (k + 1),
                estimated_latency_ms=300 * (k + 1),
                excluded_by="context_window" if k == 3 else None,
            )
            for k in range(4)
        )
        return ev.RouteDecided(
            envelope=env,
            request_id=f"req-{i}",
            model_id="model-0",
            agent_id="agent-1",
            task_id=t,
            estimated_input_tokens=1_200,
            candidates=cands,
            policy="cost-quality",
            policy_version="2",
            reason="best score under budget",
        )
    if et == "ModelCallCompleted":
        return ev.ModelCallCompleted(
            envelope=env,
            request_id=f"req-{i}",
            model_id="model-0",
            agent_id="agent-1",
            task_id=None,
            status=ev.ModelCallStatus.SUCCEEDED,
            input_tokens=1_180,
            output_tokens=220,
            cost_usd_micros=92,
            latency_ms=840,
            time_to_first_token_ms=120,
            error=None,
        )
    if et == "WorkflowStarted":
        steps = (
            ev.WorkflowStep(
                step_id="fetch", name="http.get", depends_on=(), max_attempts=3, timeout_ms=5_000
            ),
            ev.WorkflowStep(
                step_id="summarise",
                name="llm.summarise",
                depends_on=("fetch",),
                max_attempts=2,
                timeout_ms=60_000,
            ),
        )
        return ev.WorkflowStarted(
            envelope=env,
            workflow_id=f"wf-{i}",
            workflow_name="research",
            workflow_version="1",
            input=json.dumps({"topic": "gpu scheduling"}),
            steps=steps,
            parent_workflow_id=None,
        )
    if et == "StepCompleted":
        return ev.StepCompleted(
            envelope=env,
            workflow_id=f"wf-{i}",
            step_id="fetch",
            attempt=1,
            output=json.dumps({"bytes": 1024}),
            duration_ms=230,
        )
    if et == "StepFailed":
        return ev.StepFailed(
            envelope=env,
            workflow_id=f"wf-{i}",
            step_id="fetch",
            attempt=1,
            error_type="Timeout",
            error_message="no answer in 5000 ms",
            retryable=True,
            next_retry_delay_ms=1_000,
            duration_ms=5_000,
        )
    if et == "WorkflowCompleted":
        return ev.WorkflowCompleted(
            envelope=env,
            workflow_id=f"wf-{i}",
            status=ev.WorkflowStatus.SUCCEEDED,
            output=json.dumps({"summary": _text(rng, 12)}),
            error=None,
            duration_ms=61_000,
            steps_completed=2,
            steps_failed=1,
        )
    raise KeyError(f"no sample for {et}")


_BUILDERS: dict[str, Callable[[random.Random, int], Event]] = {
    "NodeRegistered": lambda rng, i: _node(ev.NodeRegistered, rng, i),
    "NodeUpdated": lambda rng, i: _node(ev.NodeUpdated, rng, i),
    "TaskSubmitted": _task_submitted,
    "TaskAllocated": _task_allocated,
    "MemoryWritten": _memory_written,
}


def sample_event(event_type: str, i: int = 0, seed: int = 0) -> Event:
    """One valid sample of ``event_type``; ``i`` varies ids and contents."""
    rng = random.Random(f"{seed}:{event_type}:{i}")
    builder = _BUILDERS.get(event_type)
    return builder(rng, i) if builder is not None else _simple(event_type, rng, i)


def sample_events(n: int, seed: int = 0, event_types: tuple[str, ...] | None = None) -> list[Event]:
    """``n`` valid events cycling over ``event_types`` (default: the whole catalogue)."""
    types = event_types or tuple(sorted(EVENT_CLASSES))
    return [sample_event(types[i % len(types)], i, seed) for i in range(n)]
