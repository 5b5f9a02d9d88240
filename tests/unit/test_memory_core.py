"""Unit tests of the pure memory consolidation core (no services)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agentic.streams.memory import (
    AccessMemory,
    DeleteMemory,
    DeleteScope,
    MemoryConfig,
    MemoryConsolidated,
    MemoryExpired,
    MemoryRemoved,
    MemoryState,
    MemoryStored,
    MemoryType,
    Tick,
    TripleAsserted,
    WriteMemory,
    WriteRejected,
    apply,
    replay,
)
from agentic.streams.memory.scoring import effective_importance, heuristic_importance

DAY = 24 * 3600 * 1000


def vec(*head: float, dim: int = 8) -> tuple[float, ...]:
    return tuple(head) + (0.0,) * (dim - len(head))


def write(n: int, content: str = "", *, at: int = 0, tenant: str = "t1", session: str = "s1",
          embedding: tuple[float, ...] | None = None, **kw: object) -> WriteMemory:
    fields: dict[str, object] = dict(
        event_id=f"e{n}", occurred_at=at or n * 1000, tenant=tenant, agent_id="a", session_id=session,
        memory_id=f"m{n}", memory_type=MemoryType.EPISODIC, content=content or f"memory number {n}",
        embedding=embedding or vec(*([0.0] * (n % 8)), 1.0),
    )
    fields.update(kw)
    return WriteMemory(**fields)


def stored_ids(state: MemoryState, tenant: str = "t1") -> list[str]:
    t = state.tenants.get(tenant)
    return [] if t is None else sorted(m.memory_id for s in t.sessions.values() for m in s.memories)


def test_exact_duplicate_is_dropped_but_its_ids_are_kept_as_provenance() -> None:
    state, out = replay([write(1, "Likes green tea", embedding=vec(1.0)),
                         write(2, "  likes GREEN   tea ", embedding=vec(0.0, 1.0))])
    assert stored_ids(state) == ["m1"]
    merged = next(o for o in out if isinstance(o, MemoryConsolidated))
    assert (merged.reason, merged.merged_memory_ids, merged.source_event_ids) == (
        "exact_duplicate", ("m1", "m2"), ("e1", "e2"))


def test_near_duplicate_above_threshold_merges_below_does_not() -> None:
    close = replay([write(1, "I love hiking", embedding=vec(1.0, 0.1)),
                    write(2, "I really love hiking a lot", embedding=vec(1.0, 0.12))])[0]
    (memory,) = close.tenants["t1"].sessions["s1"].memories
    assert memory.content == "I really love hiking a lot"  # the longer content is kept
    assert memory.source_event_ids == ("e1", "e2")
    far = replay([write(1, "I love hiking", embedding=vec(1.0, 0.0)),
                  write(2, "I love cooking", embedding=vec(1.0, 1.0))])[0]
    assert stored_ids(far) == ["m1", "m2"]


def test_redelivered_event_changes_nothing() -> None:
    state, _ = replay([write(1)])
    again, out = apply(state, write(1))
    assert out == () and again is state


def test_importance_is_scored_when_absent_and_kept_when_given() -> None:
    state, _ = replay([write(1, "ok"), write(2, "She is allergic to peanuts, remember it", importance=None),
                       write(3, "x y z w", importance=0.9)])
    by_id = {m.memory_id: m.importance for m in state.tenants["t1"].sessions["s1"].memories}
    assert by_id["m1"] < by_id["m2"] and by_id["m3"] == 0.9
    assert heuristic_importance(MemoryType.SEMANTIC, "Bob prefers tea") > heuristic_importance(
        MemoryType.SHORT_TERM, "Bob prefers tea")


def test_decay_lowers_importance_with_time_and_access_raises_it() -> None:
    state, _ = replay([write(1, importance=0.8)])
    memory = state.tenants["t1"].sessions["s1"].memories[0]
    config = MemoryConfig()
    now, later = effective_importance(memory, 1000, config), effective_importance(memory, 1000 + 7 * DAY, config)
    assert abs(later - now / 2) < 1e-9
    accessed, _ = apply(state, AccessMemory("e9", 2000, "t1", "m1"))
    touched = accessed.tenants["t1"].sessions["s1"].memories[0]
    assert touched.access_count == 1 and effective_importance(touched, 2000, config) > 0.8


def test_ttl_expires_by_event_time_not_wall_clock() -> None:
    state, _ = replay([write(1, ttl_ms=5000, at=1000)])
    state, out = apply(state, write(2, at=5999))
    assert "m1" in stored_ids(state) and not any(isinstance(o, MemoryExpired) for o in out)
    state, out = apply(state, Tick("tick", 6000))
    assert stored_ids(state) == ["m2"]
    assert out[0] == MemoryExpired("t1", "m1", "ttl", 6000, "tick")
    assert [(o.memory.memory_id, o.memory.context) for o in out[1:]] == [("m2", "")]  # m1's words left m2


def test_session_cap_keeps_the_most_important_and_the_most_recent() -> None:
    config = MemoryConfig(session_cap=3, keep_recent=1)
    writes = [write(1, importance=0.9), write(2, importance=0.1), write(3, importance=0.5),
              write(4, importance=0.05)]
    state, out = replay(writes, config)
    assert stored_ids(state) == ["m1", "m3", "m4"]  # m4 is the newest: kept despite low importance
    assert [o.memory_id for o in out if isinstance(o, MemoryExpired)] == ["m2"]


def fact(n: int, obj: str, at: int) -> WriteMemory:
    return write(n, f"Alice lives in {obj}", at=at, memory_type=MemoryType.SEMANTIC,
                 metadata=(("subject", "Alice"), ("predicate", "lives_in"), ("object", obj)))


def test_newer_contradicting_fact_closes_the_older_one() -> None:
    state, out = replay([fact(1, "Paris", 1000), fact(2, "Berlin", 5000)])
    facts = {f.object: f for f in state.tenants["t1"].facts}
    assert (facts["Paris"].valid_from, facts["Paris"].valid_to) == (1000, 5000)
    assert (facts["Berlin"].valid_from, facts["Berlin"].valid_to) == (5000, None)
    assert stored_ids(state) == ["m1", "m2"]  # the older memory is not deleted
    closed = [o.fact for o in out if isinstance(o, TripleAsserted) and o.fact.valid_to is not None]
    assert [f.object for f in closed] == ["Paris"]


def test_out_of_order_older_fact_is_stored_already_closed() -> None:
    state, _ = replay([fact(2, "Berlin", 5000), fact(1, "Paris", 1000)])
    facts = {f.object: f for f in state.tenants["t1"].facts}
    assert facts["Paris"].valid_to == 5000 and facts["Berlin"].valid_to is None


def test_delete_by_id_removes_merged_memory_and_blocks_resurrection() -> None:
    state, _ = replay([write(1, "same text", embedding=vec(1.0)), write(2, "same text", embedding=vec(1.0))])
    state, out = apply(state, DeleteMemory("d1", 9000, "t1", DeleteScope.MEMORY, "m2"))
    assert stored_ids(state) == [] and out[0].memory_ids == ("m1", "m2")
    state, out = apply(state, write(1, "same text", embedding=vec(1.0)))  # a replayed old write
    assert stored_ids(state) == [] and isinstance(out[0], WriteRejected) and out[0].field == "memory_id"


def test_session_and_tenant_deletes_remove_everything_of_their_scope_only() -> None:
    writes = [write(1, session="s1"), write(2, session="s2"), write(3, tenant="t2")]
    state, _ = replay(writes)
    state, out = apply(state, DeleteMemory("d1", 9000, "t1", DeleteScope.SESSION, "s1"))
    assert stored_ids(state) == ["m2"] and out == (MemoryRemoved("t1", DeleteScope.SESSION, "s1", ("m1",), "d1"),)
    state, _ = apply(state, DeleteMemory("d2", 9500, "t1", DeleteScope.TENANT))
    assert stored_ids(state) == [] and stored_ids(state, "t2") == ["m3"]
    _, out = apply(state, write(7, at=9400))
    assert isinstance(out[0], WriteRejected)  # older than the tenant tombstone
    state, _ = apply(state, write(8, at=9600))  # newer writes are welcome
    assert stored_ids(state) == ["m8"]


def test_delete_removes_the_facts_of_the_memory() -> None:
    state, _ = replay([fact(1, "Paris", 1000)])
    state, _ = apply(state, DeleteMemory("d1", 2000, "t1", DeleteScope.MEMORY, "m1"))
    assert state.tenants["t1"].facts == ()


def test_bad_writes_are_rejected_naming_the_field_and_leave_state_unchanged() -> None:
    state, _ = replay([write(1)])
    cases = {
        "content": write(2, content="   "),
        "embedding": write(3, embedding=(1.0, 0.0)),
        "importance": write(4, importance=1.5),
        "ttl_ms": write(5, ttl_ms=0),
    }
    for field, bad in cases.items():
        after, out = apply(state, bad)
        assert after is state
        assert isinstance(out[0], WriteRejected) and out[0].field == field, out


def test_same_log_gives_same_state_and_outputs() -> None:
    log = [write(i, f"note {i % 5}", embedding=vec(*([0.0] * (i % 8)), 1.0), session=f"s{i % 3}",
                 ttl_ms=(3000 if i % 4 == 0 else None)) for i in range(1, 40)]
    assert replay(log)[1] == replay(log)[1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["t1", "t2"]), st.integers(0, 4), st.booleans()), max_size=30))
def test_outputs_never_cross_tenants(ops: list[tuple[str, int, bool]]) -> None:
    state = MemoryState()
    for n, (tenant, k, delete) in enumerate(ops):
        cmd = (DeleteMemory(f"d{n}", n * 10, tenant, DeleteScope.MEMORY, f"m{k}") if delete
               else write(n, f"text {k}", at=n * 10 + 1, tenant=tenant, memory_id=f"m{k}-{n}"))
        state, out = apply(state, cmd)
        for o in out:
            if isinstance(o, MemoryStored):
                assert o.memory.tenant == tenant
            else:
                assert getattr(o, "tenant", tenant) == tenant
    for name, t in state.tenants.items():
        assert all(m.tenant == name for s in t.sessions.values() for m in s.memories)


def test_near_duplicates_with_different_numbers_or_names_are_kept_apart() -> None:
    same = vec(1.0, 0.1)
    state, _ = replay([write(1, "I have 3 kids", embedding=same), write(2, "I have 4 kids", embedding=same),
                       write(3, "Alice moved to Paris", embedding=vec(0.5, 1.0)),
                       write(4, "Alice moved to Berlin", embedding=vec(0.5, 1.0)),
                       write(5, "Alice moved to Berlin!!", embedding=vec(0.5, 1.0))])
    assert stored_ids(state) == ["m1", "m2", "m3", "m4"]  # only m5 merged (into m4)


def test_a_new_memory_carries_its_session_previous_memories_as_context() -> None:
    _, out = replay([write(1, "Ann: Did you adopt the dog?"), write(2, "Bo: Yes, last week!"),
                     write(3, "Ann: other session", session="s2"), write(4, "Ann: What breed?"),
                     write(5, "Bo: A beagle.")])
    stored = {o.memory.memory_id: o.memory for o in out if isinstance(o, MemoryStored)}
    assert (stored["m1"].context, stored["m2"].context) == ("", "Ann: Did you adopt the dog?")
    assert stored["m3"].context == ""  # context never crosses sessions
    assert stored["m5"].context == "Bo: Yes, last week!\nAnn: What breed?"  # the two before, in order
    _, out = replay([write(1, "Ann: hi"), write(2, "Bo: hello")], MemoryConfig(context_memories=1))
    assert [o.memory.context for o in out if isinstance(o, MemoryStored)] == ["", "Ann: hi"]
    _, out = replay([write(1, "Ann: hi"), write(2, "Bo: hello")], MemoryConfig(context_memories=0))
    assert all(o.memory.context == "" for o in out if isinstance(o, MemoryStored))


def contexts(state: MemoryState, session: str = "s1") -> dict[str, tuple[str, tuple[str, ...]]]:
    return {m.memory_id: (m.context, m.context_ids) for m in state.tenants["t1"].sessions[session].memories}


def test_a_deleted_memory_leaves_no_words_in_its_neighbours_context() -> None:
    state, _ = replay([write(1, "Ann: the vault code is 4711"), write(2, "Bo: noted"), write(3, "Ann: thanks"),
                       write(4, "Bo: bye")])
    assert contexts(state)["m3"] == ("Ann: the vault code is 4711\nBo: noted", ("m1", "m2"))
    state, out = apply(state, DeleteMemory("d1", 9000, "t1", DeleteScope.MEMORY, "m1"))
    assert isinstance(out[0], MemoryRemoved)
    assert [(o.memory.memory_id, o.memory.context) for o in out[1:]] == [("m2", ""), ("m3", "Bo: noted")]
    assert all("4711" not in c for c, _ in contexts(state).values())
    assert contexts(state)["m4"] == ("Bo: noted\nAnn: thanks", ("m2", "m3"))  # not quoting m1: untouched
    state2, _ = replay([write(1, "Ann: the vault code is 4711"), write(2, "Bo: noted"), write(3, "Ann: thanks"),
                        write(4, "Bo: bye"), DeleteMemory("d1", 9000, "t1", DeleteScope.MEMORY, "m1")])
    assert contexts(state2) == contexts(state)  # a replay of the log ends in the same place


def test_an_evicted_memory_leaves_no_words_in_its_neighbours_context() -> None:
    config = MemoryConfig(session_cap=3, keep_recent=1)
    state, out = replay([write(1, "first words", importance=0.9), write(2, "secret words", importance=0.1),
                         write(3, "third words", importance=0.5), write(4, "fourth words", importance=0.6)], config)
    assert [o.memory_id for o in out if isinstance(o, MemoryExpired)] == ["m2"]
    assert all("secret" not in c and "m2" not in ids for c, ids in contexts(state).values())
    assert contexts(state)["m4"] == ("third words", ("m3",))
