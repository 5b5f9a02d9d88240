"""Light English stemming for the BM25 side of memory search (pure, no dependencies).

Weaviate's word tokenizer lowercases and splits but does not stem, so "adopted" does not match
"adopt" nor "classes" "class". The memory store indexes a second, stemmed copy of each memory's
text (``content_stem``) and stems the query the same way. The rules are a light suffix stripper in
the spirit of Harman's S-stemmer extended with -ing/-ed/-ly: conservative (a stem keeps at least
three letters and a vowel), so it conflates inflections without merging unrelated words. The same
function runs at write and at query time; changing it requires re-indexing (replay).

Measured on the generated LoCoMo-style dataset (860 questions): keyword-only recall@10 0.594 ->
0.625 (paraphrase 0.18 -> 0.26); see docs/memory.md.

Two more functions shape the keyword side. :func:`query_terms` drops English function words from
a query before stemming (questions are mostly "what did ... do with her ..."; Weaviate's own
stopword preset removes only 33 words). :func:`keyword_text` is what a memory is indexed under:
its own stemmed words plus those of its context (its session's previous memories), so a reply
("Yes, it was amazing!") is found by the words of the turn it answers, plus the day it happened. Measured on LoCoMo
(docs/memory.md): hybrid recall@10 0.466 -> 0.62 with the query stopwords and the fusion
weight, -> 0.69 on held-out conversations with the context.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_VOWEL = re.compile(r"[aeiouy]")
_PLURALS = (("sses", "ss"), ("ies", "y"), ("xes", "x"), ("ches", "ch"), ("shes", "sh"))
_SUFFIXES = ("ingly", "edly", "ing", "ed", "ly")


@lru_cache(maxsize=1 << 16)  # pure; conversation vocabularies repeat words a lot
def stem(word: str) -> str:
    """The stem of one lowercase word."""
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, replacement in _PLURALS:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            return word[: -len(suffix)] + replacement
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in _SUFFIXES:
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) >= 3 and _VOWEL.search(base):
            word = base
            if word[-1] == word[-2] and word[-1] not in "lsz":  # stopped -> stopp -> stop
                word = word[:-1]
            break
    if word.endswith("e") and len(word) > 4:  # "create"/"created" -> "creat"
        word = word[:-1]
    return word


def stem_text(text: str) -> str:
    """Lowercased words of ``text``, each stemmed, joined by single spaces."""
    return " ".join(stem(w) for w in _WORD.findall(text.lower()))


# English function words (the common NLTK/Lucene-style list): never the topic of a question
QUERY_STOPWORDS = frozenset((
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
    "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just",
    "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once",
    "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she",
    "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves",
    "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until",
    "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
    "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves",
))


def query_terms(text: str) -> str:
    """The stemmed content words of a query (function words dropped), joined by single spaces;
    "" when the query has only function words (the caller then falls back to :func:`stem_text`)."""
    return " ".join(stem(w) for w in _WORD.findall(text.lower()) if w.split("'")[0] not in QUERY_STOPWORDS)


def keyword_text(content: str, context: str = "", at_ms: int = 0) -> str:
    """What a memory is indexed under for keyword search: its stemmed words, then its context's,
    then the UTC day it happened ("8 may 2023", so "What did she do in May 2023?" finds it; none
    when ``at_ms`` is 0, the line format's "unknown")."""
    parts = [stem_text(content), stem_text(context) if context.strip() else "", day_words(at_ms)]
    return " ".join(p for p in parts if p)


def day_words(at_ms: int) -> str:
    """The UTC day of a time in ms since the epoch as lowercase words ("8 may 2023"); "" for 0 or
    a time outside the calendar; stemmed like every other indexed word."""
    if at_ms <= 0:
        return ""
    try:
        day = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return ""
    return stem_text(f"{day.day} {day:%B %Y}")
