from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import SparkSession

from shoprec.models import scoring

from .conftest import TINY, TINY_ITEMS, dense, frame, recs_by_user, users_frame


def test_topk_rows_orders_by_score_then_column_and_drops_inf() -> None:
    s = np.array(
        [
            [0.1, 0.9, 0.5, 0.9, -np.inf],
            [-np.inf, -np.inf, 2.0, -np.inf, -np.inf],
        ],
        dtype=np.float32,
    )
    rows, cols, vals, ranks = scoring.topk_rows(s, 3)
    assert rows.tolist() == [0, 0, 0, 1]
    assert cols.tolist() == [1, 3, 2, 2]
    assert ranks.tolist() == [1, 2, 3, 1]
    assert np.allclose(vals, [0.9, 0.9, 0.5, 2.0])
    # ties at the k-th place go to the lowest columns
    ties = np.array([[1.0, 2.0, 1.0, 1.0, 1.0], [3.0, 3.0, 3.0, 3.0, 3.0]])
    rows, cols, _, _ = scoring.topk_rows(ties, 3)
    assert cols.tolist() == [1, 0, 2, 0, 1, 2]
    # k beyond the row length keeps every finite score
    rows, cols, _, ranks = scoring.topk_rows(s, 10)
    assert len(cols) == 5 and ranks[rows == 0].tolist() == [1, 2, 3, 4]


def test_topk_rows_matches_full_sort_on_random_scores() -> None:
    rng = np.random.default_rng(0)
    s = rng.normal(size=(50, 200)).astype(np.float32)
    rows, cols, _, ranks = scoring.topk_rows(s, 7)
    want = np.argsort(-s, axis=1, kind="stable")[:, :7]
    assert np.array_equal(cols.reshape(50, 7), want)
    assert np.array_equal(ranks.reshape(50, 7), np.tile(np.arange(1, 8), (50, 1)))
    assert np.array_equal(rows.reshape(50, 7), np.repeat(np.arange(50)[:, None], 7, axis=1))


def test_topk_rows_with_many_ties_and_masked_items_matches_a_stable_sort() -> None:
    """Scores from a few values: ties across the k-th place in most rows."""
    rng = np.random.default_rng(1)
    s = rng.integers(0, 4, size=(200, 60)).astype(np.float32)
    s[rng.random(s.shape) < 0.3] = -np.inf
    s[0] = -np.inf  # a row with nothing to recommend
    s[1, 5:] = -np.inf  # a row with fewer finite scores than k
    k = 10
    rows, cols, vals, ranks = scoring.topk_rows(s, k)
    for r in range(len(s)):
        order = np.argsort(-s[r], kind="stable")  # by score, then by column
        want = [c for c in order if np.isfinite(s[r, c])][:k]
        assert cols[rows == r].tolist() == want, r
        assert ranks[rows == r].tolist() == list(range(1, len(want) + 1))
        assert np.array_equal(vals[rows == r], s[r, want])


@pytest.mark.parametrize("values", [0, 3, 50])  # 0: continuous scores; else that many values
def test_wide_rows_match_a_stable_sort(values: int) -> None:
    """Catalogue-wide rows with ties and masked items."""
    rng = np.random.default_rng(values)
    n_cols, k = 4_000, 12
    if values:
        s = rng.integers(0, values, size=(120, n_cols)).astype(np.float32)
    else:
        s = rng.normal(size=(120, n_cols)).astype(np.float32)
    s[rng.random(s.shape) < 0.2] = -np.inf
    s[0] = -np.inf
    s[1, 7:] = -np.inf  # fewer finite scores than k
    s[2, ::2] = -np.inf  # the sampled columns all masked
    s[3, : n_cols // 2] = 9.0  # most of the row tied at the top
    rows, cols, vals, ranks = scoring.topk_rows(s, k)
    for r in range(len(s)):
        order = np.argsort(-s[r], kind="stable")
        want = [c for c in order if np.isfinite(s[r, c])][:k]
        assert cols[rows == r].tolist() == want, r
        assert ranks[rows == r].tolist() == list(range(1, len(want) + 1))
        assert np.array_equal(vals[rows == r], s[r, want])


def test_block_sizes() -> None:
    assert scoring.block_rows(1024, 10_000_000, 1 << 25) == 3
    assert scoring.block_rows(8, 10) == 8
    with pytest.raises(ValueError):
        scoring.block_rows(0, 10)


def _dot_scores(block: scoring.UserBlock, side: np.ndarray) -> np.ndarray:
    return np.asarray(block.history @ side)


def test_score_users_masks_seen_and_excluded_and_ignores_block_size(spark: SparkSession) -> None:
    x = dense(TINY, 6, TINY_ITEMS)
    side = np.arange(1, TINY_ITEMS + 1, dtype=np.float32)[None, :].repeat(TINY_ITEMS, 0)
    bc = spark.sparkContext.broadcast(side)
    hist = scoring.user_histories(frame(spark, TINY))
    exclude = frame(spark, [(0, 5, 0.0), (3, 2, 0.0)]).drop("weight")
    users = users_frame(spark, [0, 3, 99])
    got = []
    for block_size in (1, 1000):
        inputs = scoring.scoring_input(users, hist, exclude=exclude)
        recs = scoring.score_users(inputs, bc, _dot_scores, n_items=6, k=2, block_size=block_size)
        got.append(sorted(map(tuple, recs.collect())))
    assert got[0] == got[1]
    by_user = {}
    for u, i, score, rank in got[0]:
        by_user.setdefault(u, []).append((rank, i, score))
    assert 99 not in by_user  # no history: unknown to a history model
    # user 0 saw 0,1,2 and excludes 5: the rest score by item number, 4 first
    assert [i for _, i, _ in sorted(by_user[0])] == [4, 3]
    assert sorted(by_user[0])[0][2] == pytest.approx(x[0].sum() * 5)
    # user 3 saw 3,4 and excludes 2
    assert [i for _, i, _ in sorted(by_user[3])] == [5, 1]
    # without seen-masking the seen items come back
    inputs = scoring.scoring_input(users, hist)
    recs = scoring.score_users(inputs, bc, _dot_scores, n_items=6, k=6, exclude_seen=False)
    assert recs_by_user(recs)[3] == [5, 4, 3, 2, 1, 0]
    bc.unpersist()
