"""The cluster state the decision core folds events into.

Nodes live in numpy arrays indexed by registration order (the deterministic tie-break); tasks,
queues and the learned workload in plain dicts. The state is a *linear* value: `Scheduler.step`
consumes it and returns its successor (updated in place for speed), so keep using the returned
one. `snapshot()` gives a plain dict (JSON-able) and `ClusterState.restore()` rebuilds a state
that behaves identically; the score memo is derived data and is not part of a snapshot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from .frag import F64, I64, B, ShapeKey, Workload
from .model import Member, Placement, Topology
from .pending import PendingIndex


@dataclass
class TaskRecord:
    task_id: str
    queue: str
    priority: int
    preemptible: bool
    members: tuple[Member, ...]
    gpu_models: tuple[str, ...]
    topology: Topology
    expected_duration_ms: int | None
    submitted_at: int
    seq: int
    correlation_id: str
    placements: tuple[Placement, ...] = ()
    running: bool = False
    started_at: int = 0
    saved: tuple[Placement, ...] = ()  # placements held aside during a preemption attempt

    def demand(self) -> dict[str, int]:
        """Total request per resource (cpu_milli, memory_mib, gpu_milli) over all replicas."""
        out = {"cpu_milli": 0, "memory_mib": 0, "gpu_milli": 0}
        for m in self.members:
            out["cpu_milli"] += m.cpu_milli * m.replicas
            out["memory_mib"] += m.memory_mib * m.replicas
            out["gpu_milli"] += m.gpu_milli * m.gpu_count * m.replicas
        return out


@dataclass
class QueueRecord:
    name: str
    weight: float
    priority: int
    guaranteed: dict[str, int]  # resource key -> guaranteed amount
    borrow_limit: dict[str, int | None]
    usage: dict[str, int] = field(default_factory=dict)


def quota_key(resource: str, gpu_model: str | None) -> str:
    return f"{resource}:{gpu_model}" if gpu_model else resource


class ClusterState:
    """Nodes x GPU slots as arrays, plus tasks, queues and the workload model."""

    def __init__(self, capacity: int = 64, gpu_slots: int = 8) -> None:
        self.n = 0
        self.gpu_slots = gpu_slots
        self.node_ids: list[str] = []
        self.index: dict[str, int] = {}
        self.models: list[str] = []
        self.model_index: dict[str, int] = {}
        self.racks: list[str] = []
        self.rack_index: dict[str, int] = {}
        self._alloc(capacity, gpu_slots)
        self.version = 0
        # derived, never snapshotted: the nodes touched at versions touched_base + 1 .. version, so that the
        # memos find their stale rows without comparing every node's version (bounded: see touch)
        self.touched: list[int] = []
        self.touched_base = 0
        self.capacity_version = 0  # bumped when a node's capacity, health or presence changes
        self.tasks: dict[str, TaskRecord] = {}
        self.pending: dict[str, None] = {}  # insertion-ordered set of pending task ids
        # pending tasks tried since capacity was last freed whose miss cannot change before it is freed again
        # (single replica, no quota limit, no reclaim): task id -> the miss was for lack of resources
        self.stuck: dict[str, bool] = {}
        self.queues: dict[str, QueueRecord] = {}
        self.shape_counts: dict[ShapeKey, float] = {}
        self.workload_basis: dict[ShapeKey, float] = {}  # counts at the last refresh
        self.submissions = 0
        self.workload_epoch = 0
        self.reservation: str | None = None  # task id holding the reservation
        self.gpu_total_milli = 0
        self.gpu_alloc_milli = 0
        # derived, never snapshotted
        self.memo: dict[Any, Any] = {}
        self.workload: Workload | None = None
        self.pending_order = PendingIndex()  # the pending tasks in scheduling order

    # ----- pending tasks ------------------------------------------------------------------
    def add_pending(self, t: TaskRecord) -> None:
        self.pending[t.task_id] = None
        self.pending_order.add(t)

    def drop_pending(self, task_id: str) -> None:
        self.pending.pop(task_id, None)
        self.stuck.pop(task_id, None)
        self.pending_order.discard(task_id)

    def freed(self) -> None:
        """Capacity was given back (or nodes or quotas changed): every pending task may fit again."""
        self.stuck.clear()

    # ----- arrays -------------------------------------------------------------------------
    def _alloc(self, cap: int, g: int) -> None:
        self.cpu_cap: I64 = np.zeros(cap, dtype=np.int64)
        self.cpu_left: I64 = np.zeros(cap, dtype=np.int64)
        self.mem_cap: I64 = np.zeros(cap, dtype=np.int64)
        self.mem_left: I64 = np.zeros(cap, dtype=np.int64)
        self.gpu_left: I64 = np.zeros((cap, g), dtype=np.int64)
        self.gpu_ok: B = np.zeros((cap, g), dtype=bool)  # exists and healthy
        self.gpu_model: I64 = np.zeros((cap, g), dtype=np.int64)
        self.gpu_domain: I64 = np.zeros((cap, g), dtype=np.int64)
        self.rack: I64 = np.zeros(cap, dtype=np.int64)
        self.schedulable: B = np.zeros(cap, dtype=bool)  # active, healthy, not cordoned
        self.active: B = np.zeros(cap, dtype=bool)
        self.healthy: B = np.zeros(cap, dtype=bool)
        self.load: F64 = np.zeros(cap, dtype=np.float64)
        self.node_version: I64 = np.zeros(cap, dtype=np.int64)

    def _grow(self, cap: int, g: int) -> None:
        old = {k: getattr(self, k) for k in _ARRAYS}
        n, og = self.n, self.gpu_slots
        self._alloc(cap, g)
        for k, arr in old.items():
            new = getattr(self, k)
            if arr.ndim == 2:
                new[:n, :og] = arr[:n]
            else:
                new[:n] = arr[:n]
        self.gpu_slots = g
        self.memo.clear()

    def ensure(self, nodes: int, gpus: int) -> None:
        cap, g = self.cpu_cap.shape[0], self.gpu_slots
        if nodes > cap or gpus > g:
            self._grow(max(cap, 2 * nodes if nodes > cap else cap), max(g, gpus))

    def reshape(self, i: int) -> None:
        """Node i's capacity changed (registered, updated, removed)."""
        self.capacity_version += 1
        self.touch(i)

    def touch(self, i: int) -> None:
        """Mark node i changed: every memoised score of it is stale."""
        self.version += 1
        self.node_version[i] = self.version
        self.touched.append(i)
        if len(self.touched) > TOUCH_LOG:
            del self.touched[: TOUCH_LOG // 2]
            self.touched_base += TOUCH_LOG // 2

    def touched_since(self, version: int) -> I64 | None:
        """The nodes touched after `version`, ascending; None when the log no longer reaches back so far
        (then compare `node_version` instead)."""
        if version < self.touched_base:
            return None
        return np.array(sorted(set(self.touched[version - self.touched_base :])), dtype=np.int64)

    def model_id(self, name: str) -> int:
        if name not in self.model_index:
            self.model_index[name] = len(self.models)
            self.models.append(name)
            self.memo.clear()
        return self.model_index[name]

    def rack_id(self, name: str) -> int:
        if name not in self.rack_index:
            self.rack_index[name] = len(self.racks)
            self.racks.append(name)
        return self.rack_index[name]

    def usable_left(self) -> I64:
        """[n, G] free milli of GPUs that exist and are healthy (0 otherwise)."""
        return np.where(self.gpu_ok[: self.n], self.gpu_left[: self.n], 0)

    # ----- snapshot -----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        n = self.n
        return {
            "version": 1,
            "n": n,
            "gpu_slots": self.gpu_slots,
            "node_ids": list(self.node_ids),
            "models": list(self.models),
            "racks": list(self.racks),
            "arrays": {k: getattr(self, k)[:n].tolist() for k in _ARRAYS},
            "tasks": [_task_dict(t) for t in self.tasks.values()],
            "pending": list(self.pending),
            "stuck": [[tid, miss] for tid, miss in self.stuck.items()],
            "queues": [asdict(q) for q in self.queues.values()],
            "shape_counts": _counts_out(self.shape_counts),
            "workload_basis": _counts_out(self.workload_basis),
            "submissions": self.submissions,
            "workload_epoch": self.workload_epoch,
            "reservation": self.reservation,
            "gpu_total_milli": self.gpu_total_milli,
            "gpu_alloc_milli": self.gpu_alloc_milli,
        }

    @classmethod
    def restore(cls, snap: dict[str, Any]) -> ClusterState:
        s = cls(capacity=max(int(snap["n"]), 1), gpu_slots=int(snap["gpu_slots"]))
        s.n = int(snap["n"])
        s.node_ids = list(snap["node_ids"])
        s.index = {nid: i for i, nid in enumerate(s.node_ids)}
        for name in snap["models"]:
            s.model_id(name)
        for name in snap["racks"]:
            s.rack_id(name)
        for k, values in snap["arrays"].items():
            arr = getattr(s, k)
            if values:
                arr[: s.n] = np.asarray(values, dtype=arr.dtype)
        s.version = int(s.node_version[: s.n].max()) if s.n else 0
        s.touched, s.touched_base = [], s.version
        s.tasks = {d["task_id"]: _task_from(d) for d in snap["tasks"]}
        s.pending = dict.fromkeys(snap["pending"])
        s.stuck = {tid: bool(miss) for tid, miss in snap.get("stuck", [])}  # absent before: retry everything
        s.pending_order = PendingIndex(s.tasks[tid] for tid in s.pending)
        s.queues = {q["name"]: QueueRecord(**q) for q in snap["queues"]}
        s.shape_counts = _counts_in(snap["shape_counts"])
        s.workload_basis = _counts_in(snap["workload_basis"])
        s.submissions = int(snap["submissions"])
        s.workload_epoch = int(snap["workload_epoch"])
        s.reservation = snap["reservation"]
        s.gpu_total_milli = int(snap["gpu_total_milli"])
        s.gpu_alloc_milli = int(snap["gpu_alloc_milli"])
        return s


TOUCH_LOG = 8192  # touches kept for touched_since; older memos fall back to comparing versions
_ARRAYS = (
    "cpu_cap", "cpu_left", "mem_cap", "mem_left", "gpu_left", "gpu_ok", "gpu_model", "gpu_domain",
    "rack", "schedulable", "active", "healthy", "load", "node_version",
)


def _counts_out(counts: dict[ShapeKey, float]) -> list[list[Any]]:
    return [[k[0], k[1], k[2], list(k[3]), w] for k, w in counts.items()]


def _counts_in(rows: list[list[Any]]) -> dict[ShapeKey, float]:
    return {(int(r[0]), int(r[1]), int(r[2]), tuple(r[3])): float(r[4]) for r in rows}


_MEMBER_FIELDS = tuple(f.name for f in fields(Member))
_TASK_FIELDS = tuple(f.name for f in fields(TaskRecord) if f.name != "saved")


def _task_dict(t: TaskRecord) -> dict[str, Any]:
    d = {f: getattr(t, f) for f in _TASK_FIELDS}
    d["members"] = [{f: getattr(m, f) for f in _MEMBER_FIELDS} for m in t.members]  # asdict: slow (deep copies)
    d["placements"] = [
        {
            "member": p.member, "replica": p.replica, "node_id": p.node_id,
            "gpus": [[g.index, g.milli] for g in p.gpus], "cpu_milli": p.cpu_milli,
            "memory_mib": p.memory_mib,
        }
        for p in t.placements
    ]
    d["gpu_models"] = list(t.gpu_models)
    d["topology"] = str(t.topology)
    return d


def _task_from(d: dict[str, Any]) -> TaskRecord:
    from .model import GpuShare

    d = dict(d)
    d["members"] = tuple(Member(**m) for m in d["members"])
    d["placements"] = tuple(
        Placement(
            member=p["member"], replica=p["replica"], node_id=p["node_id"],
            gpus=tuple(GpuShare(i, m) for i, m in p["gpus"]), cpu_milli=p["cpu_milli"],
            memory_mib=p["memory_mib"],
        )
        for p in d["placements"]
    )
    d["gpu_models"] = tuple(d["gpu_models"])
    d["topology"] = Topology(d["topology"])
    return TaskRecord(**d)
