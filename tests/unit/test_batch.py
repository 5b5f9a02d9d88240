"""`Batch`, what `EventConsumer.poll` returns: the compiled one (rows, each Consumed made when read) and
its pure-Python twin must behave alike, as a sequence of Consumed and in what `append` refuses."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from typing import Any

import pytest

from agentic.connectors.kafka import Batch, Consumed
from agentic.schemas import EventCodec, StaticSchemaIds
from agentic.schemas.samples import sample_event

PURE = os.environ.get("AGENTIC_PURE_PYTHON") == "1"


def _compiled_batch() -> Any:
    if PURE:
        pytest.skip("AGENTIC_PURE_PYTHON=1: the compiled module is turned off")
    compiled = EventCodec(StaticSchemaIds()).batch_consumer(Consumed)
    assert compiled is not None, "the compiled module is missing (see tests/unit/test_cdecode.py)"
    return compiled[1]


@pytest.fixture(params=["python", "compiled"])
def make(request: pytest.FixtureRequest) -> Any:
    return Batch if request.param == "python" else _compiled_batch()


def rows(n: int) -> list[tuple[str, int, int, bytes | None, Any]]:
    """Records over two topics and three partitions, some without a key."""
    return [(f"agentic.t{i % 2}", i % 3, 1000 + i, None if i % 5 == 0 else b"k%d" % i,
             sample_event("NodeHeartbeat", i)) for i in range(n)]


def filled(make: Any, records: list[tuple[str, int, int, bytes | None, Any]]) -> Any:
    batch = make()
    for r in records:
        batch.append(*r)
    return batch


def test_a_batch_is_a_sequence_of_the_consumed_records_in_order(make: Any) -> None:
    records = rows(150)
    batch = filled(make, records)
    expected = [Consumed(*r) for r in records]
    assert isinstance(batch, Sequence)
    assert len(batch) == 150 and bool(batch)
    assert list(batch) == expected
    assert [batch[i] for i in range(150)] == expected
    assert batch[-1] == expected[-1] and batch[-150] == expected[0]
    assert batch[3:40:7] == expected[3:40:7] and batch[::-1] == expected[::-1] and batch[200:] == []
    assert all(type(c) is Consumed for c in batch)
    assert batch[10].event is records[10][4]  # the event itself, not a copy
    assert expected[7] in batch
    assert repr(batch) == "<Batch of 150 records>"
    assert not make() and len(make()) == 0 and list(make()) == []


@pytest.mark.parametrize("index", [150, -151, 10**20])
def test_an_index_out_of_range_is_an_index_error(make: Any, index: int) -> None:
    with pytest.raises(IndexError):
        filled(make, rows(150))[index]


@pytest.mark.parametrize(("record", "error", "words"), [
    ((b"topic", 0, 0, None), TypeError, "topic must be a str"),
    (("t", 0, 0, "key"), TypeError, "key must be bytes or None"),
    (("t", 0.0, 0, None), TypeError, "partition and offset must be ints"),
    (("t", 0, "0", None), TypeError, "partition and offset must be ints"),
    (("t", -1, 0, None), ValueError, "partition must be in 0..2**31-1"),
    (("t", 2**31, 0, None), ValueError, "partition must be in 0..2**31-1"),
    (("t", 0, -1, None), ValueError, "offset must be in 0..2**63-1"),
    (("t", 0, 2**63, None), ValueError, "offset must be in 0..2**63-1"),
])
def test_append_refuses_what_no_consumer_reads_and_keeps_nothing(make: Any, record: tuple[Any, ...],
                                                                  error: type[Exception], words: str) -> None:
    batch = make()
    with pytest.raises(error, match=words.replace("*", r"\*")):
        batch.append(*record, sample_event("NodeRemoved", 1))
    assert len(batch) == 0


def test_the_edges_of_the_ranges_are_kept(make: Any) -> None:
    batch = filled(make, [("t", 2**31 - 1, 2**63 - 1, b"", None), ("t", 0, 0, None, None)])
    assert [(c.partition, c.offset, c.key) for c in batch] == [(2**31 - 1, 2**63 - 1, b""), (0, 0, None)]


def test_the_compiled_batch_holds_its_events_and_lets_them_go_when_freed() -> None:
    make = _compiled_batch()
    event, key = sample_event("NodeHeartbeat", 3), b"key-%d" % 3
    before = sys.getrefcount(event), sys.getrefcount(key)
    batch = filled(make, [("agentic.t", 1, 7, key, event)] * 100)
    # the events are held; the keys' bytes are copied into the batch (see BATCH in _cdecode.c)
    assert (sys.getrefcount(event), sys.getrefcount(key)) == (before[0] + 100, before[1])
    items = list(batch)
    del batch
    gc.collect()
    assert items[99] == Consumed("agentic.t", 1, 7, key, event)  # a Consumed outlives its batch
    del items
    assert (sys.getrefcount(event), sys.getrefcount(key)) == before


def test_keys_of_every_size_come_back_whole(make: Any) -> None:
    keys = [None, b"", b"\x00", bytes(range(256)) * 20, *(b"%d" % i * (i % 97) for i in range(300))]
    batch = filled(make, [("t", 0, i, k, None) for i, k in enumerate(keys)])
    assert [c.key for c in batch] == keys


def test_the_compiled_batch_keeps_one_name_per_topic() -> None:
    make = _compiled_batch()
    names = ["agentic." + "abc"[i % 3] for i in range(30)]
    copies = ["".join(list(n)) for n in names]  # equal, not the same objects, as messages give them
    batch = filled(make, [(t, 0, i, None, None) for i, t in enumerate(copies)])
    assert [c.topic for c in batch] == names
    assert len({id(c.topic) for c in batch}) == 3


def test_index_and_count_find_records_as_a_list_does(make: Any) -> None:
    records = rows(40) + rows(10)  # the first ten records twice
    batch, expected = filled(make, records), [Consumed(*r) for r in records]
    for probe in (expected[3], expected[25]):
        assert batch.count(probe) == expected.count(probe)
        assert batch.index(probe) == expected.index(probe)
        assert batch.index(probe, 5) == expected.index(probe, 5)
        assert batch.index(probe, -30, 50) == expected.index(probe, -30, 50)
    assert batch.count("not a record") == 0
    with pytest.raises(ValueError, match="not in"):
        batch.index(expected[25], 26)
