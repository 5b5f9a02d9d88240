"""The scheduler's own domain types: what goes into the decision core and what comes out.

These mirror the Avro events of `agentic.events` field for field (see `mapping.py`), but the core
depends only on this module, so it can be tested and benchmarked without the event backbone.
Every type is a frozen dataclass; collections are tuples so that values hash and compare.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

# Namespace of the deterministic decision ids, the same as agentic.events.EVENT_ID_NAMESPACE:
# event_id = uuid5(DECISION_NAMESPACE, f"{input_event_id}\x1f{index}") = derived_event_id(input_id, str(index)).
DECISION_NAMESPACE = uuid.UUID("5f1d3c52-8b7e-4c1a-9d5e-6a0b2c4e8f10")
MILLI_PER_GPU = 1000


class Topology(StrEnum):
    NONE = "NONE"
    SAME_NODE = "SAME_NODE"
    SAME_NVLINK = "SAME_NVLINK"
    SAME_RACK = "SAME_RACK"


class PendingReason(StrEnum):
    NO_NODES = "NO_NODES"
    INSUFFICIENT_RESOURCES = "INSUFFICIENT_RESOURCES"
    GPU_MODEL_UNAVAILABLE = "GPU_MODEL_UNAVAILABLE"
    QUEUE_QUOTA_EXCEEDED = "QUEUE_QUOTA_EXCEEDED"
    GANG_NOT_COLOCATABLE = "GANG_NOT_COLOCATABLE"
    BEHIND_RESERVATION = "BEHIND_RESERVATION"
    TOPOLOGY_UNSATISFIABLE = "TOPOLOGY_UNSATISFIABLE"
    NODES_UNHEALTHY = "NODES_UNHEALTHY"


class RejectReason(StrEnum):
    INVALID_REQUEST = "INVALID_REQUEST"
    UNKNOWN_QUEUE = "UNKNOWN_QUEUE"
    NEVER_FITS = "NEVER_FITS"
    UNKNOWN_TASK = "UNKNOWN_TASK"
    DUPLICATE_TASK = "DUPLICATE_TASK"


@dataclass(frozen=True, slots=True)
class Meta:
    """The envelope fields the core needs from an input event."""

    event_id: str
    occurred_at: int  # ms since the epoch, taken from the event, never from a clock
    tenant: str = ""
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class Gpu:
    index: int
    model: str
    memory_mib: int = 0
    nvlink_domain: int = 0
    healthy: bool = True


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """A node's full specification, as NodeRegistered and NodeUpdated carry it (an update replaces it)."""

    meta: Meta
    node_id: str
    cpu_milli: int
    memory_mib: int
    gpus: tuple[Gpu, ...] = ()
    rack: str = ""
    zone: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    healthy: bool = True
    cordoned: bool = False


@dataclass(frozen=True, slots=True)
class NodeRegistered(NodeSpec):
    pass


@dataclass(frozen=True, slots=True)
class NodeUpdated(NodeSpec):
    pass


@dataclass(frozen=True, slots=True)
class NodeRemoved:
    meta: Meta
    node_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class NodeHeartbeat:
    meta: Meta
    node_id: str
    cpu_load: float
    memory_used_mib: int
    gpu_utilization: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Quota:
    resource: str  # cpu_milli | memory_mib | gpu_milli
    guaranteed: int
    gpu_model: str | None = None
    borrow_limit: int | None = None  # None: may borrow without limit


@dataclass(frozen=True, slots=True)
class QueueConfigured:
    meta: Meta
    queue: str
    weight: float = 1.0
    priority: int = 0
    quotas: tuple[Quota, ...] = ()


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    replicas: int
    cpu_milli: int
    memory_mib: int
    gpu_count: int = 0
    gpu_milli: int = 0  # per GPU, 1..1000 when gpu_count > 0


@dataclass(frozen=True, slots=True)
class TaskSubmitted:
    meta: Meta
    task_id: str
    queue: str
    members: tuple[Member, ...]
    priority: int = 0
    workload_type: str = ""
    preemptible: bool = False
    gpu_models: tuple[str, ...] = ()  # empty: any model
    topology: Topology = Topology.NONE
    expected_duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class TaskCancelled:
    meta: Meta
    task_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TaskFinished:
    meta: Meta
    task_id: str
    outcome: str = "SUCCEEDED"
    exit_code: int = 0


InputEvent = (
    NodeRegistered | NodeUpdated | NodeRemoved | NodeHeartbeat | QueueConfigured
    | TaskSubmitted | TaskCancelled | TaskFinished
)


@dataclass(frozen=True, slots=True)
class DecisionMeta:
    """Deterministic envelope of a decision (see `decision_meta`)."""

    event_id: str
    occurred_at: int
    causation_id: str
    correlation_id: str
    tenant: str = ""


@dataclass(frozen=True, slots=True)
class GpuShare:
    index: int
    milli: int


@dataclass(frozen=True, slots=True)
class Placement:
    member: str
    replica: int
    node_id: str
    gpus: tuple[GpuShare, ...]
    cpu_milli: int
    memory_mib: int


@dataclass(frozen=True, slots=True)
class TaskAllocated:
    meta: DecisionMeta
    task_id: str
    queue: str
    placements: tuple[Placement, ...]
    score: float
    score_breakdown: tuple[tuple[str, float], ...]
    policy: str
    policy_version: str
    wait_ms: int


@dataclass(frozen=True, slots=True)
class TaskPending:
    meta: DecisionMeta
    task_id: str
    queue: str
    reason: PendingReason
    detail: str
    nearest_node: str | None = None
    shortfall: tuple[tuple[str, int], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class TaskPreempted:
    meta: DecisionMeta
    task_id: str
    preemptor_task_id: str
    node_ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class TaskRejected:
    meta: DecisionMeta
    task_id: str
    reason: RejectReason
    field: str
    message: str


Decision = TaskAllocated | TaskPending | TaskPreempted | TaskRejected


def decision_meta(cause: Meta, index: int, correlation_id: str) -> DecisionMeta:
    """The envelope of the index-th decision caused by `cause`: same input, same ids, always."""
    return DecisionMeta(
        event_id=_uuid5(f"{cause.event_id}\x1f{index}"),
        occurred_at=cause.occurred_at,
        causation_id=cause.event_id,
        correlation_id=correlation_id or cause.correlation_id,
        tenant=cause.tenant,
    )


def _uuid5(name: str) -> str:
    """str(uuid.uuid5(DECISION_NAMESPACE, name)), without building a UUID object (hot path)."""
    h = bytearray(hashlib.sha1(DECISION_NAMESPACE.bytes + name.encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"
