"""The scheduler's pure decision core (see docs/scheduler.md).

`Scheduler(SchedulerConfig(...)).step(state, event) -> (state, decisions)`; `ClusterState()` is
the empty cluster, `state.snapshot()` / `ClusterState.restore(snap)` persist it.
"""

from .config import SchedulerConfig, WorkloadShape
from .core import Scheduler
from .state import ClusterState

__all__ = ["ClusterState", "Scheduler", "SchedulerConfig", "WorkloadShape"]
