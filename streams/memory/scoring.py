"""Pure scoring helpers: content hashing, cosine similarity, importance and its decay."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from agentic.streams.memory.model import Memory, MemoryConfig, MemoryType, Vectors

_BASE_IMPORTANCE = {
    MemoryType.SHORT_TERM: 0.2,
    MemoryType.WORKING: 0.3,
    MemoryType.EPISODIC: 0.4,
    MemoryType.LONG_TERM: 0.55,
    MemoryType.SEMANTIC: 0.6,
}
_SALIENT = re.compile(
    r"\b(always|never|prefer|prefers|allergic|important|remember|deadline|must|birthday|password|"
    r"favourite|favorite|hate|love|married|diagnosed|moved|promoted|born)\b", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def content_hash(content: str) -> str:
    """Hash of the content with case and runs of whitespace folded: the exact-duplicate key."""
    return hashlib.sha256(_SPACE.sub(" ", content.strip().lower()).encode()).hexdigest()


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CAPITAL = re.compile(r"\b[A-Z][\w'-]*")
_COMMON = frozenset((
    "i", "in", "on", "at", "the", "a", "an", "and", "but", "or", "so", "if", "it", "we", "he",
    "she", "they", "my", "our", "his", "her", "their", "this", "that", "when", "what", "where",
    "who", "why", "how", "yes", "no", "ok", "oh", "hi", "hey", "also", "then",
))


def key_terms(content: str) -> tuple[frozenset[str], frozenset[str]]:
    """Numbers and capitalised names of a text: two memories that differ in them are different facts,
    however close their embeddings (static embeddings barely move when one number changes)."""
    numbers = frozenset(_NUMBER.findall(content))
    names = frozenset(w.lower() for w in _CAPITAL.findall(content)) - _COMMON
    return numbers, names


def unit(vector: tuple[float, ...]) -> Vectors:
    """The vector as float64 with unit L2 norm (zero stays zero)."""
    arr = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(arr))
    return arr / norm if norm > 0.0 else arr


def heuristic_importance(memory_type: MemoryType, content: str) -> float:
    """Deterministic importance in [0, 1] for a memory written without one.

    The type sets a base; salient words (preferences, commitments, life events), numbers and
    capitalised names add to it; very short chit-chat subtracts.
    """
    score = _BASE_IMPORTANCE[memory_type]
    score += 0.1 * min(2, len(_SALIENT.findall(content)))
    score += 0.05 if _NUMBER.search(content) else 0.0
    words = content.split()
    names = sum(1 for w in words[1:] if w[:1].isupper())
    score += 0.05 * min(2, names)
    if len(words) < 4:
        score -= 0.15
    return round(min(1.0, max(0.0, score)), 6)


def effective_importance(memory: Memory, now: int, config: MemoryConfig) -> float:
    """Importance decayed by time since last write/access, boosted by how often it was read."""
    age = max(0, now - memory.last_seen_at)
    decay = 0.5 ** (age / config.half_life_ms)
    boost = min(config.max_access_boost, config.access_boost * memory.access_count)
    return float(memory.importance * decay + boost)
