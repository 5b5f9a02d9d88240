"""The light stemmer behind the BM25 side of memory search (pure)."""

from __future__ import annotations

from agentic.connectors.stemming import day_words, keyword_text, query_terms, stem, stem_text


def test_inflections_of_a_word_share_one_stem() -> None:
    groups = [("adopt", "adopted", "adopting", "adopts"), ("class", "classes"),
              ("agency", "agencies"), ("stop", "stopped", "stopping", "stops"),
              ("paint", "painted", "painting", "paints"), ("create", "created", "creates")]
    for group in groups:
        assert len({stem(w) for w in group}) == 1, group


def test_short_words_numbers_and_unrelated_words_stay_apart() -> None:
    assert stem("is") == "is" and stem("2023") == "2023" and stem("bus") == "bus"
    assert stem("sing") == "sing" and stem("red") == "red"  # too short to strip
    assert stem("running") != stem("ruin")


def test_text_is_lowercased_possessives_dropped_and_query_matches_content() -> None:
    assert stem_text("Caroline's Painting CLASSES!") == "carolin paint class"
    assert set(stem_text("When did Melanie adopt her dogs?").split()) >= {"adopt", "dog", "melani"}
    assert set(stem_text("Melanie: we adopted two dogs").split()) >= {"adopt", "dog", "melani"}


def test_query_terms_drop_function_words_keep_the_topic() -> None:
    assert query_terms("When did Caroline go to the LGBTQ support group?") == "carolin go lgbtq support group"
    assert query_terms("What's it about? Would they?") == ""  # only function words: caller falls back
    assert set(query_terms("What did Melanie paint?").split()) == {"melani", "paint"}


def test_keyword_text_indexes_own_words_then_the_context() -> None:
    assert keyword_text("Bo: Yes, adopted!") == stem_text("Bo: Yes, adopted!")
    assert keyword_text("Bo: Yes!", "Ann: Did you adopt the dogs?") == "bo yes ann did you adopt the dog"
    assert keyword_text("Bo: Yes!", "   ") == "bo yes"


def test_keyword_text_ends_with_the_utc_day_when_known() -> None:
    may_8 = 1_683_553_000_000  # 2023-05-08T13:36:40Z
    assert day_words(may_8) == "8 may 2023"
    assert keyword_text("Bo: Yes!", "Ann: Camping?", may_8) == "bo yes ann camp 8 may 2023"
    assert keyword_text("Bo: Yes!", "", may_8) == "bo yes 8 may 2023"
    assert day_words(0) == "" and day_words(10**20) == ""  # unknown (the line default) or off the calendar
    assert set(query_terms("What did Bo do on 8 May, 2023?").split()) >= set(day_words(may_8).split())
