"""The seeded LoCoMo-style dataset, the LoCoMo loader and the memory line format."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from agentic.bench.memory_data import build_dataset, load_locomo, memory_lines, question_lines
from agentic.memory.lines import MemoryInputError, parse_line


def test_dataset_is_deterministic_and_evidence_exists() -> None:
    a, b = build_dataset(2, seed=3), build_dataset(2, seed=3)
    assert a == b and a != build_dataset(2, seed=4)
    for conv in a:
        ids = {t.turn_id for t in conv.turns}
        assert len(ids) == len(conv.turns)
        assert {e for q in conv.questions for e in q.evidence} <= ids
        assert {q.category for q in conv.questions} == {"single-hop", "paraphrase", "temporal", "multi-hop"}
        times = [t.occurred_at_ms for t in conv.turns]
        assert times == sorted(times)  # sessions are in time order


def test_paraphrase_questions_share_few_words_with_their_evidence() -> None:
    conv = build_dataset(1)[0]
    text = {t.turn_id: t.text.lower() for t in conv.turns}
    stop = {"the", "a", "of", "to", "in", "what", "who", "is", "did", "does", "for", "how", "with", "on"}
    for q in conv.questions:
        if q.category == "paraphrase":
            words = {w.strip("?,.'s").lower() for w in q.text.split()} - stop - set(w.lower() for w in conv.speakers)
            shared = words & set(text[q.evidence[0]].replace(",", " ").replace(".", " ").split())
            assert len(shared) <= 1, (q.text, text[q.evidence[0]])


def test_memory_and_question_lines_round_trip_through_the_line_parser() -> None:
    convs = build_dataset(1)
    lines = list(memory_lines(convs))
    commands = [parse_line(json.loads(json.dumps(line)), n) for n, line in enumerate(lines, 1)]
    assert [c.memory_id for c in commands] == [t.turn_id for t in convs[0].turns]
    questions = list(question_lines(convs))
    assert all(q["tenant"] == convs[0].conversation_id and q["evidence"] for q in questions)


_CONVERSATION = {
    "speaker_a": "Ann", "speaker_b": "Bo",
    "session_1_date_time": "1:56 pm on 8 May, 2023",
    "session_1": [{"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a cat."},
                  {"speaker": "Bo", "dia_id": "D1:2", "text": "Nice!", "blip_caption": "a cat"}],
    "session_2_date_time": "10:00 am on 9 June, 2023",
    "session_2": [{"speaker": "Ann", "dia_id": "D2:1", "text": "Moved to Oslo."}],
}
_QA = [{"question": "What pet does Ann have?", "answer": "cat", "evidence": ["D1:1"], "category": 4},
       {"question": "Unanswerable?", "answer": "", "evidence": [], "category": 5}]


def _check_small_conversation(conv: Any, conv_id: str) -> None:
    assert conv.conversation_id == conv_id and conv.speakers == ("Ann", "Bo")
    assert [t.turn_id for t in conv.turns] == [f"{conv_id}:D1:1", f"{conv_id}:D1:2", f"{conv_id}:D2:1"]
    assert "[shares a photo of a cat]" in conv.turns[1].text
    assert conv.turns[2].occurred_at_ms > conv.turns[0].occurred_at_ms
    assert [(q.evidence, q.category) for q in conv.questions] == [((f"{conv_id}:D1:1",), "single-hop")]


def test_load_locomo_standard_file(tmp_path: Path) -> None:
    path = tmp_path / "locomo10.json"
    path.write_text(json.dumps([{"sample_id": "conv-x", "conversation": _CONVERSATION, "qa": _QA}]))
    (conv,) = load_locomo(path)
    _check_small_conversation(conv, "conv-x")


def test_load_locomo_per_conversation_layout(tmp_path: Path) -> None:
    """The release zip's data/multimodal_dialog/locomo10_v2/<n>.json: sessions and qa at the top level."""
    folder = tmp_path / "locomo10_v2"
    folder.mkdir()
    for n in (30, 4):  # numeric order, not name order
        (folder / f"{n}.json").write_text(json.dumps({**_CONVERSATION, "qa": _QA}))
    one = load_locomo(folder / "30.json")
    assert len(one) == 1
    _check_small_conversation(one[0], "conv-30")
    convs = load_locomo(folder)
    assert [c.conversation_id for c in convs] == ["conv-4", "conv-30"]
    _check_small_conversation(convs[0], "conv-4")
    archive = tmp_path / "locomo10.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for n in (30, 4):
            zf.write(folder / f"{n}.json", f"data/multimodal_dialog/locomo10_v2/{n}.json")
    assert load_locomo(archive) == convs


def test_load_locomo_rejects_other_json(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"turns": []}))
    with pytest.raises(ValueError, match="not LoCoMo"):
        load_locomo(path)


@pytest.mark.parametrize(("line", "field"), [
    ({"content": "x"}, "tenant"),
    ({"tenant": "t", "content": "  "}, "content"),
    ({"tenant": "t", "content": "x", "memory_type": "DREAM"}, "memory_type"),
    ({"tenant": "t", "content": "x", "importance": 2}, "importance"),
    ({"tenant": "t", "content": "x", "ttl_ms": -5}, "ttl_ms"),
    ({"tenant": "t", "content": "x", "embedding": "abc"}, "embedding"),
    ({"tenant": "t", "content": "x", "colour": "red"}, "colour"),
])
def test_bad_lines_name_the_field(line: dict[str, object], field: str) -> None:
    with pytest.raises(MemoryInputError, match=rf"^line 3: {field}:"):
        parse_line(line, 3)


def test_line_defaults_and_case_insensitive_type() -> None:
    cmd = parse_line({"tenant": "t", "content": "hello", "memory_type": "long_term",
                      "occurred_at": "2024-01-02T03:04:05+00:00"})
    assert cmd.memory_type == "LONG_TERM" and cmd.session_id == "default" and cmd.occurred_at == 1704164645000
    assert cmd.memory_id == parse_line({"tenant": "t", "content": "hello"}).memory_id  # derived, stable
