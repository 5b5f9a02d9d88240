"""The scheduler's decision core: `Scheduler(config).step(state, event) -> (state, decisions)`.

No I/O, no clock (time is the input's `occurred_at`), no unseeded randomness; ties go to the node
registered first. The same inputs in the same order give the same decisions, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from . import fairness
from .config import SchedulerConfig
from .diagnose import diagnose
from .frag import Workload, from_shapes, shape_key, typical, weighted
from .model import (
    Decision,
    InputEvent,
    Meta,
    NodeHeartbeat,
    NodeRegistered,
    NodeRemoved,
    NodeUpdated,
    PendingReason,
    Placement,
    QueueConfigured,
    RejectReason,
    TaskAllocated,
    TaskCancelled,
    TaskFinished,
    TaskPending,
    TaskPreempted,
    TaskRejected,
    TaskSubmitted,
    decision_meta,
)
from .placement import Miss, Placed, allocate, fits_now, place, release
from .state import ClusterState, QueueRecord, TaskRecord, quota_key
from .validate import check_submission

T = TypeVar("T")


@dataclass
class _Out:
    """Decisions of one step, numbered for their deterministic envelopes."""

    cause: Meta
    items: list[Decision] = field(default_factory=list)

    def meta(self, correlation_id: str):  # type: ignore[no-untyped-def]
        return decision_meta(self.cause, len(self.items), correlation_id)


class Scheduler:
    """Folds scheduling inputs into a `ClusterState` and emits decisions."""

    def __init__(self, config: SchedulerConfig | None = None) -> None:
        self.config = config or SchedulerConfig()
        self._prior: Workload | None = (
            from_shapes(self.config.workload_prior, self.config.typical_coverage, self.config.workload_weight,
                        self.config.typical_demand_effective)
            if self.config.workload_prior else None
        )

    # ----- entry point ----------------------------------------------------------------------
    def step(self, state: ClusterState, event: InputEvent) -> tuple[ClusterState, tuple[Decision, ...]]:
        out = _Out(event.meta)
        if isinstance(event, TaskSubmitted):
            self._submitted(state, event, out)
        elif isinstance(event, TaskFinished | TaskCancelled):
            self._ended(state, event, out)
        elif isinstance(event, NodeRegistered | NodeUpdated):
            self._node(state, event)
            state.freed()
            self._retry(state, out)
        elif isinstance(event, NodeRemoved):
            self._node_removed(state, event, out)
            state.freed()
            self._retry(state, out)
        elif isinstance(event, NodeHeartbeat):
            self._heartbeat(state, event)
        elif isinstance(event, QueueConfigured):
            self._queue(state, event)
            state.freed()
            self._retry(state, out)
        return state, tuple(out.items)

    def workload(self, state: ClusterState) -> Workload:
        if self._prior is not None:
            return self._prior
        if state.workload is None:
            state.workload = typical(weighted(state.workload_basis, self.config.workload_weight),
                                     self.config.typical_coverage, self.config.typical_demand_effective)
        return state.workload

    # ----- nodes and queues -----------------------------------------------------------------
    def _node(self, state: ClusterState, ev: NodeRegistered | NodeUpdated) -> None:
        i = state.index.get(ev.node_id)
        gpus = sorted(ev.gpus, key=lambda g: g.index)
        width = max([g.index + 1 for g in gpus] or [0])
        if i is None:
            state.ensure(state.n + 1, width)
            i = state.n
            state.n += 1
            state.node_ids.append(ev.node_id)
            state.index[ev.node_id] = i
            used_cpu = used_mem = 0
            used_gpu = np.zeros(state.gpu_slots, dtype=np.int64)
        else:
            state.ensure(state.n, width)
            used_cpu = int(state.cpu_cap[i] - state.cpu_left[i]) if state.active[i] else 0
            used_mem = int(state.mem_cap[i] - state.mem_left[i]) if state.active[i] else 0
            used_gpu = np.where(state.gpu_ok[i] | (state.gpu_left[i] < 1000), 1000 - state.gpu_left[i], 0)
            state.gpu_total_milli -= int(state.gpu_ok[i].sum()) * 1000 if state.active[i] else 0
        state.cpu_cap[i], state.mem_cap[i] = ev.cpu_milli, ev.memory_mib
        state.cpu_left[i], state.mem_left[i] = ev.cpu_milli - used_cpu, ev.memory_mib - used_mem
        state.gpu_ok[i] = False
        state.gpu_left[i] = 0
        for g in gpus:
            state.gpu_ok[i, g.index] = g.healthy
            state.gpu_left[i, g.index] = 1000 - int(used_gpu[g.index]) if g.index < used_gpu.shape[0] else 1000
            state.gpu_model[i, g.index] = state.model_id(g.model)
            state.gpu_domain[i, g.index] = g.nvlink_domain
        state.rack[i] = state.rack_id(ev.rack)
        state.active[i], state.healthy[i] = True, ev.healthy
        state.schedulable[i] = ev.healthy and not ev.cordoned
        state.gpu_total_milli += int(state.gpu_ok[i].sum()) * 1000
        state.reshape(i)

    def _node_removed(self, state: ClusterState, ev: NodeRemoved, out: _Out) -> None:
        i = state.index.get(ev.node_id)
        if i is None or not state.active[i]:
            return
        for t in [t for t in state.tasks.values() if t.running]:
            if any(p.node_id == ev.node_id for p in t.placements):
                self._evict(state, t)
                # No task asked for this capacity: the preemptor is the departing node, `node:<id>`.
                out.items.append(TaskPreempted(out.meta(t.correlation_id), t.task_id, f"node:{ev.node_id}",
                                               (ev.node_id,), f"node {ev.node_id} removed: {ev.reason}"))
        state.gpu_total_milli -= int(state.gpu_ok[i].sum()) * 1000
        state.active[i] = state.schedulable[i] = False
        state.reshape(i)

    def _heartbeat(self, state: ClusterState, ev: NodeHeartbeat) -> None:
        i = state.index.get(ev.node_id)
        if i is None:
            return
        gpu = float(np.mean(ev.gpu_utilization)) if ev.gpu_utilization else 0.0
        state.load[i] = min(1.0, max(0.0, max(ev.cpu_load, gpu)))
        state.memo.pop("any_load", None)
        state.touch(i)

    def _queue(self, state: ClusterState, ev: QueueConfigured) -> None:
        old = state.queues.get(ev.queue)
        state.queues[ev.queue] = QueueRecord(
            name=ev.queue, weight=ev.weight, priority=ev.priority,
            guaranteed={quota_key(q.resource, q.gpu_model): q.guaranteed for q in ev.quotas},
            borrow_limit={quota_key(q.resource, q.gpu_model): q.borrow_limit for q in ev.quotas},
            usage=old.usage if old else {},
        )

    # ----- tasks ----------------------------------------------------------------------------
    def _submitted(self, state: ClusterState, ev: TaskSubmitted, out: _Out) -> None:
        problem = check_submission(state, ev)
        corr = ev.meta.correlation_id or ev.task_id
        if problem is not None:
            out.items.append(TaskRejected(out.meta(corr), ev.task_id, problem.reason, problem.field,
                                          problem.message))
            return
        self._learn(state, ev)
        t = TaskRecord(ev.task_id, ev.queue, ev.priority, ev.preemptible, ev.members, ev.gpu_models,
                       ev.topology, ev.expected_duration_ms, ev.meta.occurred_at, state.submissions,
                       corr)
        state.tasks[t.task_id] = t
        if not state.pending and state.reservation is None:
            miss = self._try(state, t, ev.meta.occurred_at, out)
            if miss is not None:
                state.add_pending(t)
                self._remember_miss(state, t, miss)
        else:
            state.add_pending(t)
            self._retry(state, out)
            miss = None if t.running else self._blocked_or_why(state, t, ev.meta.occurred_at)
        if miss is not None:
            out.items.append(TaskPending(out.meta(corr), t.task_id, t.queue, miss.reason, miss.detail,
                                         miss.nearest_node, miss.shortfall))

    def _ended(self, state: ClusterState, ev: TaskFinished | TaskCancelled, out: _Out) -> None:
        t = state.tasks.get(ev.task_id)
        if t is None:
            kind = "TaskFinished" if isinstance(ev, TaskFinished) else "TaskCancelled"
            out.items.append(TaskRejected(out.meta(ev.meta.correlation_id or ev.task_id), ev.task_id,
                                          RejectReason.UNKNOWN_TASK, "task_id",
                                          f"{kind} for task {ev.task_id!r}, which is not submitted or "
                                          "already ended; check the task id"))
            return
        freed = t.running
        if t.running:
            self._release_task(state, t)
        state.drop_pending(t.task_id)
        del state.tasks[t.task_id]
        was_reserved = state.reservation == t.task_id
        if was_reserved:
            state.reservation = None
        if freed or was_reserved:
            self._retry(state, out)

    def _learn(self, state: ClusterState, ev: TaskSubmitted) -> None:
        state.submissions += 1
        if self._prior is not None or not self.config.learn_workload:
            return
        for m in ev.members:
            key = shape_key(m.cpu_milli, m.gpu_milli, m.gpu_count, ev.gpu_models)
            state.shape_counts[key] = state.shape_counts.get(key, 0.0) + m.replicas
        s, cfg = state.submissions, self.config
        if s in cfg.learn_schedule or (s > cfg.learn_schedule[-1] and s % cfg.learn_period == 0):
            state.workload_basis = dict(state.shape_counts)
            state.workload_epoch += 1
            state.workload = None

    # ----- placing --------------------------------------------------------------------------
    def _try(self, state: ClusterState, t: TaskRecord, now: int, out: _Out) -> Miss | None:
        """Place t now (quota, then gang placement, then preemption); None when placed."""
        q = state.queues[t.queue]
        demand = t.demand()
        miss = fairness.over_limit(q, demand)
        if miss is not None:
            return miss
        placed = place(state, self.config, t, self.workload(state))
        if placed is not None:
            delta = fairness.usage_delta(state, placed.placements)
            miss = fairness.over_limit(q, delta)
            if miss is not None:  # a per-model quota: undo
                for p in reversed(placed.placements):
                    release(state, p)
                return miss
        elif self.config.preemption:
            placed = self._preempt_for(state, t, out)
        if placed is None:
            return self._why(state, t, now)
        self._commit(state, t, placed, now, out)
        return None

    def _commit(self, state: ClusterState, t: TaskRecord, placed: Placed, now: int, out: _Out) -> None:
        t.placements, t.running, t.started_at = placed.placements, True, now
        _running_changed(state)
        fairness.apply_usage(state.queues[t.queue], fairness.usage_delta(state, placed.placements), +1)
        state.drop_pending(t.task_id)
        if state.reservation == t.task_id:
            state.reservation = None
        cfg = self.config
        out.items.append(TaskAllocated(out.meta(t.correlation_id), t.task_id, t.queue, placed.placements,
                                       placed.score, placed.breakdown, cfg.placement, cfg.policy_version,
                                       max(0, now - t.submitted_at)))

    def _release_task(self, state: ClusterState, t: TaskRecord) -> None:
        fairness.apply_usage(state.queues[t.queue], fairness.usage_delta(state, t.placements), -1)
        for p in reversed(t.placements):
            release(state, p)
        t.placements, t.running = (), False
        _running_changed(state)
        state.freed()

    def _evict(self, state: ClusterState, t: TaskRecord) -> None:
        self._release_task(state, t)
        state.add_pending(t)

    def _blocked_or_why(self, state: ClusterState, t: TaskRecord, now: int) -> Miss:
        if not self._may_start(state, t, now):
            return Miss(PendingReason.BEHIND_RESERVATION,
                        f"task {state.reservation} holds the reservation; only tasks whose "
                        "expected_duration_ms ends before it can start are backfilled")
        return self._why(state, t, now)

    def _why(self, state: ClusterState, t: TaskRecord, now: int) -> Miss:
        return diagnose(state, self.config, t, self.workload(state))

    # ----- preemption -----------------------------------------------------------------------
    def _victims(self, state: ClusterState, t: TaskRecord) -> list[TaskRecord]:
        q = state.queues[t.queue]
        reclaim = fairness.under_guarantee(q, t.demand())
        out = []
        for v in _preemptible_running(state):  # already in victim order: the first 64 that qualify
            if v.task_id == t.task_id:
                continue
            if v.priority < t.priority or (reclaim and v.queue != t.queue
                                           and fairness.borrowing(state.queues[v.queue])):
                out.append(v)
                if len(out) == 64:
                    break
        return out

    def _preempt_for(self, state: ClusterState, t: TaskRecord, out: _Out) -> Placed | None:
        """Evict preemptible victims one by one until t fits; keep only those actually needed."""
        victims = self._victims(state, t)
        if not victims:
            return None
        released: list[TaskRecord] = []
        placed = None
        for v in victims:
            self._release_task_keep(state, v)
            released.append(v)
            placed = place(state, self.config, t, self.workload(state))
            if placed is not None:
                break
        if placed is None:  # freeing everything would not help: put every victim back
            for v in reversed(released):
                self._restore(state, v)
            return None
        evicted = [v for v in reversed(released) if not self._restore_if_fits(state, v)]
        for v in sorted(evicted, key=lambda v: v.seq):
            nodes = tuple(sorted({p.node_id for p in v.saved}))
            v.saved = v.placements = ()
            state.add_pending(v)
            out.items.append(TaskPreempted(out.meta(v.correlation_id), v.task_id, t.task_id, nodes,
                                           f"priority {t.priority} task {t.task_id} needs the capacity"))
        return placed

    def _release_task_keep(self, state: ClusterState, v: TaskRecord) -> None:
        v.saved = v.placements
        self._release_task(state, v)
        v.placements = v.saved

    def _restore_if_fits(self, state: ClusterState, v: TaskRecord) -> bool:
        """Give a victim back its placements if they all still fit together (else leave it evicted)."""
        done: list[Placement] = []
        for p in v.saved:
            if not fits_now(state, p):  # checked against the replicas already put back
                for q in reversed(done):
                    release(state, q)
                return False
            allocate(state, p)
            done.append(p)
        v.placements, v.running, v.saved = v.saved, True, ()
        _running_changed(state)
        fairness.apply_usage(state.queues[v.queue], fairness.usage_delta(state, v.placements), +1)
        return True

    def _restore(self, state: ClusterState, v: TaskRecord) -> None:
        for p in v.saved:
            allocate(state, p)
        v.placements, v.running, v.saved = v.saved, True, ()
        _running_changed(state)
        fairness.apply_usage(state.queues[v.queue], fairness.usage_delta(state, v.placements), +1)

    # ----- pending tasks, reservation, backfill ---------------------------------------------
    def _retry(self, state: ClusterState, out: _Out) -> None:
        """Try the first `max_pending_retries` pending tasks in scheduling order (`fairness.order_key`).

        A task in `state.stuck` missed since capacity was last freed and cannot fit before it is freed
        again: it is not placed again, only its miss counts (for the reservation).
        """
        if not state.pending:
            return
        r = state.reservation
        if r in state.stuck and not state.pending_order.any_timed:
            return  # the reserved task cannot fit yet, and nobody else may start before it
        cfg = self.config
        now = out.cause.occurred_at
        for task_id in self._first_pending(state, now):
            if task_id not in state.pending:
                continue
            if task_id in state.stuck and (state.reservation is not None or not cfg.reservation):
                continue  # not placed again, and its miss cannot take a reservation
            t = state.tasks[task_id]
            if t.expected_duration_ms is None and state.reservation not in (None, task_id) \
                    and state.reservation in state.tasks:
                continue  # behind the reservation, and cannot be backfilled (`_may_start`)
            if not self._may_start(state, t, now):
                continue
            lacks_resources = state.stuck.get(task_id)
            if lacks_resources is None:
                miss = self._try(state, t, now, out)
                if miss is None:
                    continue
                lacks_resources = miss.reason in _RESOURCE_REASONS
                self._remember_miss(state, t, miss)
            if (cfg.reservation and state.reservation is None and lacks_resources
                    and now - t.submitted_at >= cfg.aging_ms):
                state.reservation = t.task_id

    def _first_pending(self, state: ClusterState, now: int) -> list[str]:
        cfg = self.config
        cap = fairness.capacity(state) if cfg.drf and len(state.queues) > 1 else {}

        def queue_priority(name: str) -> int:
            q = state.queues.get(name)
            return q.priority if q else 0

        def share(name: str) -> float:
            q = state.queues.get(name)
            return fairness.dominant_share(q, cap) if (cap and q) else 0.0

        return state.pending_order.first(cfg.max_pending_retries, now, cfg.aging_ms, queue_priority, share)

    def _remember_miss(self, state: ClusterState, t: TaskRecord, miss: Miss) -> None:
        """Mark t stuck when its miss cannot change until capacity is freed: one replica (a gang's greedy
        placement can depend on scores), a reason that only freed capacity or a node change can lift,
        no quota limit on its queue, and no reclaim of borrowed capacity (other queues start borrowing
        without any capacity being freed). Priority preemption keeps this: new victims only hold capacity
        taken since the miss."""
        if miss.reason not in _MONOTONE_REASONS or sum(m.replicas for m in t.members) != 1:
            return
        q = state.queues[t.queue]
        if any(limit is not None for limit in q.borrow_limit.values()):
            return
        if self.config.preemption and q.guaranteed:
            return
        state.stuck[t.task_id] = miss.reason in _RESOURCE_REASONS

    def _may_start(self, state: ClusterState, t: TaskRecord, now: int) -> bool:
        """Behind a reservation only tasks that end before the reserved task can start are backfilled."""
        r = state.reservation
        if r is None or r == t.task_id or r not in state.tasks:
            return True
        if t.expected_duration_ms is None:
            return False
        start = reservation_start(state, state.tasks[r])
        return start is not None and now + t.expected_duration_ms <= start

    def reservation_detail(self, state: ClusterState) -> str | None:
        return state.reservation


_RESOURCE_REASONS = (PendingReason.INSUFFICIENT_RESOURCES, PendingReason.GANG_NOT_COLOCATABLE,
                     PendingReason.TOPOLOGY_UNSATISFIABLE)
# reasons that stay true while no capacity is freed and no node or queue changes
_MONOTONE_REASONS = (PendingReason.INSUFFICIENT_RESOURCES, PendingReason.GPU_MODEL_UNAVAILABLE,
                     PendingReason.NO_NODES, PendingReason.NODES_UNHEALTHY)


def reservation_start(state: ClusterState, r: TaskRecord) -> int | None:
    """Earliest time the running tasks' expected ends free the reserved task's total demand.

    Aggregate estimate (free + released GPU milli, CPU and memory); None when it depends on a task
    without an expected duration.
    """
    need = r.demand()
    free = dict(_free_total(state))
    if all(free[k] >= v for k, v in need.items()):
        return None if r.running else _latest_end(state)
    for end, _, t in _expected_ends(state):
        for k, v in t.demand().items():
            free[k] += v
        if all(free[k] >= v for k, v in need.items()):
            return end
    return None


def _latest_end(state: ClusterState) -> int | None:
    ends = _expected_ends(state)
    return ends[-1][0] if ends else None  # sorted by end: the last ends latest


# ----- derived views of the running tasks, memoised in `state.memo` (derived, never snapshotted) --------
# Valid while the run epoch is unchanged: every change of a task's `running` flag or start time bumps it
# (`_running_changed`); the free totals are keyed by the node version (`ClusterState.touch`). A retry pass
# asks for them once per pending task, and they change only when a task is placed or released.
_RUN_EPOCH, _VICTIM_ORDER, _ENDS, _FREE = "run_epoch", "victim_order", "expected_ends", "free_total"


def _running_changed(state: ClusterState) -> None:
    state.memo[_RUN_EPOCH] = state.memo.get(_RUN_EPOCH, 0) + 1


def _memo(state: ClusterState, name: str, key: int, build: Callable[[], T]) -> T:
    hit = state.memo.get(name)
    if hit is not None and hit[0] == key:
        return hit[1]  # type: ignore[no-any-return]
    value = build()
    state.memo[name] = (key, value)
    return value


def _preemptible_running(state: ClusterState) -> list[TaskRecord]:
    """Running preemptible tasks in victim order: lowest priority first, then the latest started."""
    return _memo(state, _VICTIM_ORDER, state.memo.get(_RUN_EPOCH, 0), lambda: sorted(
        (v for v in state.tasks.values() if v.running and v.preemptible),
        key=lambda v: (v.priority, -v.started_at, -v.seq)))


def _expected_ends(state: ClusterState) -> list[tuple[int, int, TaskRecord]]:
    """(expected end, seq, task) of the running tasks with an expected duration, earliest first."""
    return _memo(state, _ENDS, state.memo.get(_RUN_EPOCH, 0), lambda: sorted(
        ((t.started_at + t.expected_duration_ms, t.seq, t) for t in state.tasks.values()
         if t.running and t.expected_duration_ms is not None), key=lambda e: (e[0], e[1])))


def _free_total(state: ClusterState) -> dict[str, int]:
    """Free CPU, memory and GPU milli over the schedulable nodes (copy before changing it)."""
    def build() -> dict[str, int]:
        n, ok = state.n, state.schedulable[: state.n]
        return {"cpu_milli": int(state.cpu_left[:n][ok].sum()), "memory_mib": int(state.mem_left[:n][ok].sum()),
                "gpu_milli": int(state.usable_left()[ok].sum())}
    return _memo(state, _FREE, state.version, build)
