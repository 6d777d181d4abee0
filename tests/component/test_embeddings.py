from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from switchboard.core.embeddings import (
    DIMENSION,
    MODEL_SHA256,
    MiniLMEmbedder,
    SwitchboardEmbeddingFunction,
    default_model_path,
    sha256_of,
)
from switchboard.core.errors import ConfigurationError


def test_vectors_are_unit_length_and_meaningful(embedder: MiniLMEmbedder) -> None:
    v = embedder.embed(["How do I get a refund?", "refund policy for annual plans", "2FA setup"])
    assert v.shape == (3, DIMENSION) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_batching_does_not_change_vectors(embedder: MiniLMEmbedder) -> None:
    """Short and long texts (past the 256-token cut) mixed, in batches padded here."""
    texts = [f"sentence number {i} " + "word " * (i % 17) for i in range(70)]
    texts += [f"paragraph {i}: " + "refunds are paid to the card used " * (4 * i) for i in range(8)]
    batched = embedder.embed(texts)
    single = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(batched, single, atol=1e-4)
    assert embedder.embed([]).shape == (0, DIMENSION)


def test_text_past_the_token_limit_embeds_like_its_first_256_tokens(
    embedder: MiniLMEmbedder,
) -> None:
    head = "refunds are paid to the card used for the purchase. " * 30
    assert np.allclose(embedder.embed([head]), embedder.embed([head + "tail " * 400]), atol=1e-5)


def test_model_file_is_pinned(tmp_path: Path) -> None:
    assert sha256_of(default_model_path()) == MODEL_SHA256
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the model")
    with pytest.raises(ConfigurationError, match="sha256"):
        MiniLMEmbedder(model_path=fake)


def test_chroma_embedding_function_round_trips_its_config() -> None:
    ef = SwitchboardEmbeddingFunction()
    config = ef.get_config()
    assert config["model_sha256"] == MODEL_SHA256
    rebuilt = SwitchboardEmbeddingFunction.build_from_config(config)
    assert len(rebuilt(["hello"])[0]) == DIMENSION
    with pytest.raises(ConfigurationError):
        SwitchboardEmbeddingFunction.build_from_config({"model_sha256": "0" * 64})
