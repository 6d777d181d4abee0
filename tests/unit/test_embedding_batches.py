"""How texts sorted by token count are cut into model runs (``token_batches``)."""

from __future__ import annotations

import pytest

from switchboard.core.embeddings import BATCH_SIZE, BATCH_TOKENS, token_batches


@pytest.mark.parametrize(
    "lengths",
    [
        [],
        [12] * 100,  # short queries: full batches of BATCH_SIZE
        [200] * 7,  # long chunks: one or two per run
        [256] * 3,
        [3, 5, 8, 40, 90, 130, 200, 256, 256],
        [BATCH_TOKENS * 2],  # longer than the budget alone still gets a run
    ],
)
def test_batches_cover_every_text_once_within_both_limits(lengths: list[int]) -> None:
    batches = token_batches(lengths)
    assert [i for b in batches for i in b] == list(range(len(lengths)))
    for b in batches:
        assert 1 <= len(b) <= BATCH_SIZE
        padded = len(b) * max(lengths[i] for i in b)
        assert len(b) == 1 or padded <= BATCH_TOKENS


def test_short_texts_fill_a_batch_and_long_ones_run_alone() -> None:
    assert [len(b) for b in token_batches([12] * 64)] == [BATCH_SIZE, BATCH_SIZE]
    assert [len(b) for b in token_batches([256] * 3)] == [1, 1, 1]
    assert [len(b) for b in token_batches([100, 100, 100, 100])] == [3, 1]
