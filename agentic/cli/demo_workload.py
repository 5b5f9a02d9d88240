"""The demo's workload: the OpenB trace (nodes and pods) as scheduling input events, trace times compressed,
and the agents behind the tasks (tool calls and memory operations).

Pure: the same files, run id, end time and seed give the same events (ids are uuid5 of the run and the name;
agent activity is drawn from `random.Random` seeded with the seed and the pod's name). A run registers its
own nodes (ids prefixed with the run id), submits every pod at its compressed creation time as a one-member
task of a tenant queue, finishes it at its compressed deletion time, and removes its nodes at the end, so
the next run starts from an empty cluster. `agent_activity` gives a share of the tasks an agent session that
recalls memories, then in each step calls a model (routed by a cost/quality policy, then completed) and the
tool the model asked for (requested, decided by the policy engine, completed), and writes memories.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agentic import events as ev
from agentic.bench import openb
from agentic.bench.openb import TraceNode, TracePod, load_nodes
from agentic.events import derived_event_id, new_envelope

__all__ = ["MODELS", "TENANTS", "Model", "Timeline", "TraceNode", "TracePod", "agent_activity", "load_nodes",
           "load_pods", "model_catalogue", "route", "sample_nodes", "timeline", "workload"]

SOURCE = "agentic.demo"
TENANTS = ("acme", "globex", "initech")
PRIORITY = {"Guaranteed": 3, "LS": 2, "Burstable": 1, "BE": 0}


def load_pods(path: Path, suffix: str = "") -> list[TracePod]:
    """The trace's pods (`agentic.bench.openb` rules), named `<name>-<suffix>` when several lists are mixed.
    A multi-GPU pod asks for whole GPUs (the catalogue's rule: a share below 1000 needs gpu_count == 1)."""
    pods = []
    for p in openb.load_pods(path):
        if suffix:
            p = replace(p, name=f"{p.name}-{suffix}")
        if p.num_gpu > 1:
            p = replace(p, gpu_milli=1000)
        pods.append(p)
    return pods


@dataclass(frozen=True, slots=True)
class Timeline:
    """Trace time compressed into event time.

    The pods arrive in trace order (creation time, then name), spread evenly over the first
    `arrival_share` of the span (the trace's 149 days of gaps are not kept); each runs for its trace
    duration scaled so that the median pod runs `median_share` of the span. The trace's own scale (pods
    of minutes over months) would leave the cluster nearly empty at any moment.
    """

    start_ms: int
    span_ms: int
    pods: int
    median_duration_s: int
    arrival_share: float = 0.75
    median_share: float = 0.2

    def arrival(self, rank: int) -> int:
        return self.start_ms + int(self.span_ms * self.arrival_share * rank / max(self.pods, 1))

    def duration(self, trace_s: int) -> int:
        return int(trace_s * self.span_ms * self.median_share / max(self.median_duration_s, 1))


def _env(run: str, kind: str, name: str, tenant: str, at_ms: int, correlation: str | None = None) -> ev.Envelope:
    return new_envelope(kind, tenant, SOURCE, at_ms, correlation_id=correlation,
                        event_id=derived_event_id(run, kind, name))


def node_events(run: str, nodes: list[TraceNode], at_ms: int) -> Iterator[Any]:
    for i, n in enumerate(nodes):
        gpus = tuple(ev.GpuDevice(index=g, model=n.model or "none", memory_mib=0, nvlink_domain=g // 4,
                                  healthy=True) for g in range(n.gpus))
        yield ev.NodeRegistered(envelope=_env(run, "NodeRegistered", n.name, "cluster", at_ms),
                                node_id=f"{run}-{n.name}", cpu_milli=n.cpu_milli, memory_mib=n.memory_mib,
                                gpus=gpus, rack=f"rack-{i // 32:03d}", zone="z1", labels={}, healthy=True,
                                cordoned=False)


def queue_events(run: str, at_ms: int) -> Iterator[Any]:
    for tenant in TENANTS:
        yield ev.QueueConfigured(envelope=_env(run, "QueueConfigured", tenant, tenant, at_ms),
                                 queue=f"{run}-{tenant}", weight=1.0, priority=0, quotas=())


def task_events(run: str, i: int, pod: TracePod, tl: Timeline) -> Iterator[tuple[int, int, Any]]:
    """(time, order, event) of the i-th pod (trace order): its submission and, within the span, its end."""
    tenant = TENANTS[i % len(TENANTS)]
    task_id = f"{run}-{pod.name}"
    sub = _env(run, "TaskSubmitted", pod.name, tenant, tl.arrival(i))
    kind = ev.WorkloadType.TRAINING if pod.num_gpu >= 1 and pod.gpu_milli == 1000 else (
        ev.WorkloadType.INFERENCE if pod.num_gpu else ev.WorkloadType.BATCH)
    member = ev.GangMember(name="pod", replicas=1, cpu_milli=pod.cpu_milli, memory_mib=pod.memory_mib,
                           gpu_count=pod.num_gpu, gpu_milli=pod.gpu_milli)
    duration = tl.duration(max(0, pod.deletion_time - pod.creation_time))
    yield sub.occurred_at, 1, ev.TaskSubmitted(
        envelope=sub, task_id=task_id, queue=f"{run}-{tenant}", priority=PRIORITY.get(pod.qos, 0),
        workload_type=kind, preemptible=pod.qos == "BE", members=(member,), gpu_models=pod.gpu_spec,
        topology=ev.TopologyRequirement.NONE, expected_duration_ms=duration)
    end_ms = min(sub.occurred_at + duration, tl.start_ms + tl.span_ms)
    end = _env(run, "TaskFinished", pod.name, tenant, end_ms, correlation=sub.correlation_id)
    yield end.occurred_at, 2, ev.TaskFinished(envelope=end, task_id=task_id, outcome=ev.TaskOutcome.SUCCEEDED,
                                                  exit_code=0)


def sample_nodes(nodes: list[TraceNode], share: float) -> list[TraceNode]:
    """Every k-th node of the trace (k = round(1/share)): a smaller cluster of the same mix of node shapes."""
    if not 0 < share <= 1:
        raise ValueError(f"share={share}: must be in (0, 1]; 1 keeps every node of the trace")
    return nodes[::max(1, round(1 / share))]


def _in_trace_order(pods: list[TracePod]) -> list[TracePod]:
    return sorted(pods, key=lambda p: (p.creation_time, p.name))


def timeline(pods: list[TracePod], end_ms: int, span_ms: int, median_share: float) -> Timeline:
    """The compression of `pods` into the `span_ms` before `end_ms` (see `Timeline`)."""
    durations = sorted(max(0, p.deletion_time - p.creation_time) for p in pods) or [1]
    return Timeline(end_ms - span_ms, span_ms, len(pods), durations[len(durations) // 2], median_share=median_share)


def workload(run: str, nodes: list[TraceNode], pods: list[TracePod], end_ms: int,
             span_ms: int = 3_600_000, median_share: float = 0.35) -> list[Any]:
    """Every input event of one demo run, in event-time order, ending at `end_ms` with the nodes' removal."""
    ordered = _in_trace_order(pods)
    tl = timeline(ordered, end_ms, span_ms, median_share)
    timed: list[tuple[int, int, int, Any]] = [(tl.start_ms, 0, i, e) for i, e in
                                              enumerate([*queue_events(run, tl.start_ms),
                                                         *node_events(run, nodes, tl.start_ms)])]
    for i, pod in enumerate(ordered):
        timed += [(t, order, i, e) for t, order, e in task_events(run, i, pod, tl)]
    timed.sort(key=lambda x: (x[0], x[1], x[2]))
    removal = [ev.NodeRemoved(envelope=_env(run, "NodeRemoved", n.name, "cluster", end_ms), node_id=f"{run}-{n.name}",
                              reason="demo run ended") for n in nodes]
    return [e for *_, e in timed] + removal


# ------------------------------------------------------------------------------------ agent activity

AGENTS_PER_TENANT = 4
POLICY_ID, POLICY_VERSION = "demo-tools", "v3"


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool agents call: its share of the calls, median duration, failure rate and the policy rule it meets."""

    name: str
    weight: int
    median_ms: int
    fail_rate: float
    deny_rate: float = 0.0  # DENY by policy
    approval_rate: float = 0.0  # REQUIRE_APPROVAL by policy
    rule: str = ""  # the rule that denies it or holds it for approval


TOOLS: tuple[Tool, ...] = (
    Tool("web.search", 30, 900, 0.03),
    Tool("python.exec", 22, 2_500, 0.08),
    Tool("sql.query", 15, 400, 0.02),
    Tool("kubectl.logs", 12, 300, 0.01),
    Tool("shell.exec", 11, 1_500, 0.05, deny_rate=0.35,
         rule="shell-egress: a shell command may not open outbound network connections"),
    Tool("http.post", 10, 600, 0.04, approval_rate=0.3,
         rule="http-post-external: a POST outside the tenant's domains needs a human approval"),
)
ALLOW_RULE = "default-allow: tool on the tenant's allow-list, no restricting rule matched"
TIMEOUT_MS = 30_000
APPROVAL_WAIT_MS = 60_000


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """How much agent activity a run has: the share of tasks driven by an agent and the session shape."""

    seed: int = 42
    task_share: float = 0.6  # tasks launched by an agent (the rest are plain batch jobs)
    calls_mean: float = 3.0  # tool calls per session (1 + geometric)
    think_median_ms: int = 8_000  # between a call's end and the next call
    write_share: float = 0.5  # a successful call is remembered with this probability
    recall_max: int = 3  # memories recalled at the start of a session


@dataclass
class _Session:
    """One agent session's context while its events are drawn."""

    run: str
    tenant: str
    agent: str
    session: str
    task_id: str
    correlation: str
    rng: random.Random
    out: list[tuple[int, Any]]
    seq: int = 0

    def env(self, kind: str, at_ms: int, causation: str | None = None) -> ev.Envelope:
        self.seq += 1
        return new_envelope(kind, self.tenant, SOURCE, at_ms, correlation_id=self.correlation,
                            causation_id=causation, event_id=derived_event_id(self.run, self.session, str(self.seq)))

    def emit(self, at_ms: int, event: Any) -> Any:
        self.out.append((at_ms, event))
        return event


def _lognormal_ms(rng: random.Random, median_ms: int, sigma: float = 0.8) -> int:
    return max(1, int(median_ms * math.exp(rng.gauss(0.0, sigma))))


def _decide(s: _Session, tool: Tool) -> tuple[ev.PolicyDecision, str]:
    u = s.rng.random()
    if u < tool.deny_rate:
        return ev.PolicyDecision.DENY, tool.rule
    if u < tool.deny_rate + tool.approval_rate:
        return ev.PolicyDecision.REQUIRE_APPROVAL, tool.rule
    return ev.PolicyDecision.ALLOW, ALLOW_RULE


def _outcome(s: _Session, tool: Tool, decision: ev.PolicyDecision) -> tuple[ev.ToolCallStatus, int, str | None]:
    """(status, duration_ms, error) of a decided call."""
    waited = 0
    if decision is ev.PolicyDecision.DENY:
        return ev.ToolCallStatus.DENIED, 0, f"denied by {POLICY_ID}@{POLICY_VERSION}: {tool.rule}"
    if decision is ev.PolicyDecision.REQUIRE_APPROVAL:
        if s.rng.random() < 0.4:
            return ev.ToolCallStatus.DENIED, APPROVAL_WAIT_MS, "no approval within 60 s"
        waited = _lognormal_ms(s.rng, 20_000, 0.5) % APPROVAL_WAIT_MS
    duration = _lognormal_ms(s.rng, tool.median_ms)
    if duration > TIMEOUT_MS:
        return ev.ToolCallStatus.TIMED_OUT, waited + TIMEOUT_MS, f"no result within {TIMEOUT_MS} ms"
    if s.rng.random() < tool.fail_rate:
        return ev.ToolCallStatus.FAILED, waited + duration, f"{tool.name} exited with an error"
    return ev.ToolCallStatus.SUCCEEDED, waited + duration, None


def _tool_call(s: _Session, n: int, at_ms: int, cause: str | None) -> tuple[int, Any]:
    """Request, decision and completion of one call starting at `at_ms`; returns (end time, completion)."""
    tool = s.rng.choices(TOOLS, weights=[t.weight for t in TOOLS])[0]
    call_id = f"{s.session}-tc{n}"
    args = json.dumps({"task_id": s.task_id, "step": n, "tool": tool.name}, sort_keys=True)
    req = s.emit(at_ms, ev.ToolCallRequested(
        envelope=s.env("ToolCallRequested", at_ms, cause), tool_call_id=call_id, agent_id=s.agent,
        runtime_id=None, session_id=s.session, task_id=s.task_id, tool_name=tool.name, arguments=args,
        timeout_ms=TIMEOUT_MS))
    evaluation_ms = round(0.2 + s.rng.random() * 2.8, 3)
    decided_at = at_ms + math.ceil(evaluation_ms)
    decision, reason = _decide(s, tool)
    dec = s.emit(decided_at, ev.ToolCallDecided(
        envelope=s.env("ToolCallDecided", decided_at, req.envelope.event_id), tool_call_id=call_id,
        decision=decision, reason=reason, policy_id=POLICY_ID, policy_version=POLICY_VERSION,
        evaluation_ms=evaluation_ms))
    status, duration, error = _outcome(s, tool, decision)
    ran = status is not ev.ToolCallStatus.DENIED
    end = decided_at + duration
    done = s.emit(end, ev.ToolCallCompleted(
        envelope=s.env("ToolCallCompleted", end, dec.envelope.event_id), tool_call_id=call_id,
        runtime_id=f"{s.run}-{s.tenant}-sandbox-{s.rng.randrange(4)}" if ran else None, status=status,
        exit_code=(0 if status is ev.ToolCallStatus.SUCCEEDED else 1) if ran else None,
        output=f"{tool.name}: {status.value.lower()}", output_truncated=False, error=error,
        duration_ms=duration, cpu_ms=duration // 3 if ran else None,
        max_rss_mib=64 + s.rng.randrange(512) if ran else None))
    return end, done


# ------------------------------------------------------------------------------------ model routing

ROUTE_POLICY, ROUTE_POLICY_VERSION = "demo-cheapest-eligible", "v1"


@dataclass(frozen=True, slots=True)
class Model:
    """A model endpoint agents can be routed to. Prices are illustrative list prices (micro-USD per million
    tokens), not quotes; latency is time to first token plus a per-output-token time."""

    model_id: str
    provider: str
    model_name: str
    endpoint: str
    context_window: int
    input_price: int
    output_price: int
    quality: float
    ttft_ms: int
    ms_per_token: float
    fail_rate: float
    rate_limit_rate: float = 0.0


MODELS: tuple[Model, ...] = (
    Model("llama-3.1-8b", "vllm", "meta-llama/Llama-3.1-8B-Instruct", "http://vllm-small.agentic.svc:8000/v1",
          32_768, 50_000, 100_000, 0.62, 60, 8.0, 0.005),
    Model("llama-3.3-70b", "vllm", "meta-llama/Llama-3.3-70B-Instruct", "http://vllm-large.agentic.svc:8000/v1",
          131_072, 600_000, 900_000, 0.80, 180, 25.0, 0.01),
    Model("frontier-api", "openai", "gpt-4o", "https://api.openai.com/v1",
          131_072, 2_500_000, 10_000_000, 0.90, 400, 15.0, 0.01, rate_limit_rate=0.03),
)
NEEDS = ((0.5, 60), (0.75, 30), (0.85, 10))  # the quality a step needs, and how often (percent)


def model_catalogue(run: str, at_ms: int) -> list[ev.ModelRegistered]:
    """The models registered at the start of a run (a registration replaces the previous one)."""
    return [ev.ModelRegistered(
        envelope=_env(run, "ModelRegistered", m.model_id, "cluster", at_ms), model_id=m.model_id,
        provider=m.provider, model_name=m.model_name, endpoint=m.endpoint, context_window_tokens=m.context_window,
        input_cost_usd_micros_per_mtok=m.input_price, output_cost_usd_micros_per_mtok=m.output_price,
        capabilities=("tools", "json"), quality_score=m.quality) for m in MODELS]


def _cost_micros(m: Model, input_tokens: int, output_tokens: int) -> int:
    return (input_tokens * m.input_price + output_tokens * m.output_price) // 1_000_000


def route(models: tuple[Model, ...], input_tokens: int, output_tokens: int,
          need: float) -> tuple[Model, tuple[ev.RouteCandidate, ...], str]:
    """The cheapest good-enough model: among those whose context fits and whose quality meets the step's need,
    the one with the lowest estimated cost (score 1 / (1 + cost in tenths of a cent), so cheaper scores higher);
    if none meets the need, the best quality whose context fits."""
    cands = []
    for m in models:
        cost = _cost_micros(m, input_tokens, output_tokens)
        excluded = ("context_window" if input_tokens + output_tokens > m.context_window
                    else "quality" if m.quality < need else None)
        score = 0.0 if excluded else round(1.0 / (1.0 + cost / 1_000), 6)
        latency = m.ttft_ms + round(m.ms_per_token * output_tokens)
        cands.append(ev.RouteCandidate(model_id=m.model_id, eligible=excluded is None, score=score,
                                       estimated_cost_usd_micros=cost, estimated_latency_ms=latency,
                                       excluded_by=excluded))
    eligible = [(c.score, -i, i) for i, c in enumerate(cands) if c.eligible]
    if eligible:
        pick = max(eligible)[2]
        reason = (f"cheapest of {len(eligible)} eligible (need quality {need}): "
                  f"est. {cands[pick].estimated_cost_usd_micros} micro-USD")
    else:
        fits = [(m.quality, i) for i, m in enumerate(models) if cands[i].excluded_by != "context_window"]
        pick = max(fits)[1] if fits else max((m.context_window, i) for i, m in enumerate(models))[1]
        reason = f"no model meets quality {need}: the best that fits the context"
    return models[pick], tuple(cands), reason


def _model_call(s: _Session, n: int, at_ms: int, cause: str | None) -> tuple[int, Any]:
    """The agent's model request for step `n`: routed, then completed; returns (end time, completion)."""
    request_id = f"{s.session}-mr{n}"
    long_context = s.rng.random() < 0.04  # retrieved documents in the prompt
    input_tokens = (40_000 if long_context else 600) + 350 * n + _lognormal_ms(s.rng, 400, 0.6)
    output_tokens = _lognormal_ms(s.rng, 220, 0.7)
    need = s.rng.choices([q for q, _ in NEEDS], weights=[w for _, w in NEEDS])[0]
    model, cands, reason = route(MODELS, input_tokens, output_tokens, need)
    routed_at = at_ms + 1
    decided = s.emit(routed_at, ev.RouteDecided(
        envelope=s.env("RouteDecided", routed_at, cause), request_id=request_id, model_id=model.model_id,
        agent_id=s.agent, task_id=s.task_id, estimated_input_tokens=input_tokens, candidates=cands,
        policy=ROUTE_POLICY, policy_version=ROUTE_POLICY_VERSION, reason=reason))
    u = s.rng.random()
    status, error = ev.ModelCallStatus.SUCCEEDED, None
    if u < model.rate_limit_rate:
        status, error, output_tokens = ev.ModelCallStatus.RATE_LIMITED, "429: rate limit reached", 0
    elif u < model.rate_limit_rate + model.fail_rate:
        status, error, output_tokens = ev.ModelCallStatus.FAILED, "500: upstream error", 0
    ttft = _lognormal_ms(s.rng, model.ttft_ms, 0.4)
    latency = ttft + round(model.ms_per_token * output_tokens * (0.8 + 0.4 * s.rng.random()))
    end = routed_at + latency
    done = s.emit(end, ev.ModelCallCompleted(
        envelope=s.env("ModelCallCompleted", end, decided.envelope.event_id), request_id=request_id,
        model_id=model.model_id, agent_id=s.agent, task_id=s.task_id, status=status,
        input_tokens=input_tokens if status is ev.ModelCallStatus.SUCCEEDED else 0, output_tokens=output_tokens,
        cost_usd_micros=_cost_micros(model, input_tokens, output_tokens) if status is ev.ModelCallStatus.SUCCEEDED
        else 0,
        latency_ms=latency, time_to_first_token_ms=ttft if status is ev.ModelCallStatus.SUCCEEDED else None,
        error=error))
    return end, done


def _write(s: _Session, at_ms: int, memories: list[tuple[int, str]], kind: ev.MemoryType, content: str,
           cause: Any) -> None:
    memory_id = f"{s.session}-m{s.seq}"
    s.emit(at_ms, ev.MemoryWritten(
        envelope=s.env("MemoryWritten", at_ms, cause.envelope.event_id), memory_id=memory_id, agent_id=s.agent,
        session_id=s.session, memory_type=kind, content=content, metadata={"task_id": s.task_id},
        importance=round(0.2 + 0.8 * s.rng.random(), 3),
        ttl_ms=3_600_000 if kind is ev.MemoryType.WORKING else None,
        source_refs=(cause.envelope.event_id,), embedding=None))
    memories.append((at_ms, memory_id))


def _recall(s: _Session, at_ms: int, memories: list[tuple[int, str]], cfg: AgentConfig) -> None:
    known = [m for t, m in memories if t < at_ms]
    for rank, memory_id in enumerate(s.rng.sample(known, min(len(known), s.rng.randint(0, cfg.recall_max))), 1):
        s.emit(at_ms, ev.MemoryAccessed(
            envelope=s.env("MemoryAccessed", at_ms), memory_id=memory_id, agent_id=s.agent, session_id=s.session,
            query=f"what did we learn before {s.task_id}", rank=rank, score=round(1.0 / (rank + 0.5), 3)))


def _session(s: _Session, start_ms: int, end_ms: int, memories: list[tuple[int, str]], cfg: AgentConfig) -> None:
    """Each step: the agent's model call (routed, then completed), then the tool call the model asked for."""
    _recall(s, start_ms, memories, cfg)
    calls = 1 + int(math.log(1.0 - s.rng.random()) / math.log(1.0 - 1.0 / cfg.calls_mean))
    at, last = start_ms, None
    for n in range(calls):
        thought_at, thought = _model_call(s, n, at, last.envelope.event_id if last is not None else None)
        if thought_at > end_ms:
            break
        if thought.status is not ev.ModelCallStatus.SUCCEEDED:  # no tool call this step; think and retry
            at = thought_at + _lognormal_ms(s.rng, cfg.think_median_ms)
            continue
        end, done = _tool_call(s, n, thought_at, thought.envelope.event_id)
        if end > end_ms:
            break
        last = done
        if done.status is ev.ToolCallStatus.SUCCEEDED and s.rng.random() < cfg.write_share:
            _write(s, end, memories, ev.MemoryType.EPISODIC, f"{done.output} for {s.task_id} (step {n})", done)
        at = end + _lognormal_ms(s.rng, cfg.think_median_ms)
    if last is not None and at <= end_ms and s.rng.random() < 0.5:
        _write(s, at, memories, ev.MemoryType.SEMANTIC, f"task {s.task_id}: {n + 1} tool calls, last "
               f"{last.status.value.lower()}", last)


def agent_activity(run: str, pods: list[TracePod], end_ms: int, span_ms: int = 3_600_000,
                   median_share: float = 0.35, config: AgentConfig = AgentConfig()) -> list[Any]:
    """Tool calls and memory operations of the agents behind `pods` (same compression as `workload`), in
    event-time order: a share of the tasks get a session starting at their submission that recalls the
    agent's earlier memories, calls tools (each request decided by the policy engine, then completed, denied
    or timed out) and writes memories of what worked. Sessions stop at the end of the span."""
    ordered = _in_trace_order(pods)
    tl = timeline(ordered, end_ms, span_ms, median_share)
    out: list[tuple[int, Any]] = []
    memories: dict[str, list[tuple[int, str]]] = {}
    for i, pod in enumerate(ordered):
        rng = random.Random(f"{config.seed}:{pod.name}")
        if rng.random() >= config.task_share:
            continue
        tenant = TENANTS[i % len(TENANTS)]
        agent = f"{run}-{tenant}-agent-{rng.randrange(AGENTS_PER_TENANT)}"
        submitted = _env(run, "TaskSubmitted", pod.name, tenant, tl.arrival(i))
        s = _Session(run, tenant, agent, f"{run}-{pod.name}-s", f"{run}-{pod.name}", submitted.correlation_id,
                     rng, out)
        start = submitted.occurred_at + 1 + rng.randrange(5_000)
        _session(s, start, end_ms, memories.setdefault(agent, []), config)
    return [e for _, e in sorted(out, key=lambda x: x[0])]
