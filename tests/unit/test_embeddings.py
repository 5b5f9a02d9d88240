"""The embedder port and its offline adapters (the WordLlama weights ship in the installed wheel)."""

from __future__ import annotations

import numpy as np
import pytest

from agentic.connectors.embeddings import (
    EmbeddingError,
    HashingEmbedder,
    WordLlamaEmbedder,
    check_vector,
    load_embedder,
)


@pytest.fixture(scope="module")
def wordllama() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


def test_default_embedder_is_offline_normalised_float32(wordllama: WordLlamaEmbedder) -> None:
    vectors = wordllama.embed(["the puppy barked all night", "a dog was barking", "quarterly tax filing"])
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.3  # related sentences are closer than unrelated ones


def test_embedding_is_deterministic(wordllama: WordLlamaEmbedder) -> None:
    a = wordllama.embed(["same text twice"])
    b = wordllama.embed(["same text twice"])
    assert np.array_equal(a, b)


def test_empty_batch_gives_empty_matrix(wordllama: WordLlamaEmbedder) -> None:
    assert wordllama.embed([]).shape == (0, 256)


def test_hashing_embedder_baseline() -> None:
    h = HashingEmbedder(64)
    v = h.embed(["hiking trip", "hiking trips", "tax return"])
    assert v.shape == (3, 64) and (v @ v.T)[0, 1] > (v @ v.T)[0, 2]


def test_load_embedder_by_name_and_plugin_path() -> None:
    assert load_embedder("hashing-32").dim == 32
    plugged = load_embedder("agentic.connectors.embeddings:HashingEmbedder")
    assert plugged.name == "hashing-512"
    with pytest.raises(EmbeddingError, match="unknown"):
        load_embedder("no-such-model")
    with pytest.raises(EmbeddingError, match="no attribute"):
        load_embedder("agentic.connectors.embeddings:Nope")


@pytest.mark.parametrize(("vector", "rule"), [
    ([0.1, 0.2], "expected a vector of 4 floats"),
    ([0.0, 0.0, 0.0, 0.0], "all zeros"),
    ([1.0, float("nan"), 0.0, 0.0], "NaN"),
])
def test_check_vector_names_field_and_rule(vector: list[float], rule: str) -> None:
    with pytest.raises(EmbeddingError, match=rule) as err:
        check_vector(vector, 4)
    assert str(err.value).startswith("embedding:")
