"""Pending tasks kept in scheduling order incrementally, so that a retry pass costs O(k), not O(pending).

The scheduling order (`fairness.order_key`) is: effective priority with aging (descending), then the
queue's DRF share, then arrival (`seq`). Aging depends on the time of the pass, so no single sorted list
stays in order; but within one (queue, priority) group the share is the same and the aged priority never
increases with the submission time. Each group is therefore kept sorted by (submitted_at, seq), and the
first k of the whole order are among the first k of each group (plus, when a group's seq order differs
from its time order, the rest of the k-th element's aging level). Those candidates are sorted by the
exact key: the result is the same as sorting every pending task and taking the first k.

Derived data: rebuilt from the pending set and the task records on restore, never snapshotted.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import TaskRecord

GroupKey = tuple[str, int]  # (queue, task priority)
Entry = tuple[int, int, str]  # (submitted_at, seq, task_id)
OrderKey = tuple[float, float, int]


@dataclass
class _Group:
    entries: list[Entry] = field(default_factory=list)
    seq_sorted: bool = True  # seq increases along entries: the group's order is its list order


class PendingIndex:
    """Pending task ids grouped by (queue, priority), each group sorted by (submitted_at, seq)."""

    def __init__(self, tasks: Iterable[TaskRecord] = ()) -> None:
        self._groups: dict[GroupKey, _Group] = {}
        self._where: dict[str, tuple[GroupKey, Entry]] = {}
        self._timed: set[str] = set()  # the tasks with an expected duration (they may be backfilled)
        for t in tasks:
            self.add(t)

    def __len__(self) -> int:
        return len(self._where)

    @property
    def any_timed(self) -> bool:
        """Whether some pending task has an expected duration (only those can start behind a reservation)."""
        return bool(self._timed)

    def add(self, t: TaskRecord) -> None:
        if t.task_id in self._where:
            return
        key, entry = (t.queue, t.priority), (t.submitted_at, t.seq, t.task_id)
        group = self._groups.setdefault(key, _Group())
        entries = group.entries
        pos = bisect_left(entries, entry)
        if (pos > 0 and entries[pos - 1][1] > t.seq) or (pos < len(entries) and entries[pos][1] < t.seq):
            group.seq_sorted = False
        entries.insert(pos, entry)
        self._where[t.task_id] = (key, entry)
        if t.expected_duration_ms is not None:
            self._timed.add(t.task_id)

    def discard(self, task_id: str) -> None:
        found = self._where.pop(task_id, None)
        if found is None:
            return
        key, entry = found
        self._timed.discard(task_id)
        group = self._groups[key]
        del group.entries[bisect_left(group.entries, entry)]
        if not group.entries:
            del self._groups[key]

    def first(self, k: int, now: int, aging_ms: int, queue_priority: Callable[[str], int],
              share: Callable[[str], float]) -> list[str]:
        """The first ``k`` pending task ids in scheduling order at time ``now``."""
        if len(self._groups) == 1:
            ((queue, priority), group), = self._groups.items()
            if group.seq_sorted:  # one group in seq order: its first k, whatever their keys
                return [task_id for _, _, task_id in group.entries[:k]]
        candidates: list[tuple[OrderKey, str]] = []
        for (queue, priority), group in self._groups.items():
            base, dominant = priority + queue_priority(queue), share(queue)
            candidates.extend(_group_head(group, k, now, aging_ms, base, dominant))
        candidates.sort()
        return [task_id for _, task_id in candidates[:k]]


def _group_head(group: _Group, k: int, now: int, aging_ms: int, base: int,
                dominant: float) -> list[tuple[OrderKey, str]]:
    """The group's tasks that can be among the first k: its first k, and, when its seq order differs
    from its time order, the others of the k-th one's aging level (one of them may have a smaller seq)."""
    out: list[tuple[OrderKey, str]] = []
    kth_aged = 0
    for submitted_at, seq, task_id in group.entries:
        aged = base + max(0, now - submitted_at) // aging_ms
        if len(out) >= k and (group.seq_sorted or aged != kth_aged):
            break
        out.append(((-float(aged), dominant, seq), task_id))
        if len(out) == k:
            kth_aged = aged
    return out
