from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from pyspark.sql import DataFrame, SparkSession

from shoprec import schemas as S
from shoprec.models import EASE, SIMILAR_ITEM_IDX
from shoprec.models.ease import dense_gram, ease_weights

from .conftest import TINY, TINY_ITEMS, TINY_USERS, dense, frame, recs_by_user, users_frame


def _closed_form(x: np.ndarray, reg: float) -> np.ndarray:
    p = np.linalg.inv(x.T @ x + reg * np.eye(x.shape[1]))
    b = np.eye(x.shape[1]) - p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return b


def test_ease_matches_numpy_and_scores_history_times_b(
    spark: SparkSession, tiny: DataFrame, tmp_path: Path
) -> None:
    x = dense(TINY, TINY_USERS, TINY_ITEMS)
    weighted = EASE(reg=2.0, binary=False).fit(tiny, n_items=TINY_ITEMS)
    assert weighted.weights is not None
    assert np.allclose(weighted.weights, _closed_form(x, 2.0), atol=1e-5)

    model = EASE(reg=2.0).fit(tiny, n_items=TINY_ITEMS)
    b = _closed_form((x > 0) * 1.0, 2.0)
    assert model.weights is not None
    assert np.allclose(model.weights, b, atol=1e-5)

    users = users_frame(spark, [0, 5, 31])
    exclude = frame(spark, [(5, 4, 0.0)]).drop(S.WEIGHT)
    recs = model.recommend(users, 2, exclude=exclude)
    rows = recs.collect()
    by_user = recs_by_user(recs)
    assert set(by_user) == {0, 5}  # 31 is unknown
    scores = x @ b  # scoring uses the raw weights
    for user in (0, 5):
        masked = scores[user].copy()
        masked[x[user] > 0] = -np.inf
        if user == 5:
            masked[4] = -np.inf
        assert by_user[user] == list(np.argsort(-masked, kind="stable")[:2])
    for r in rows:
        assert r[S.SCORE] == pytest.approx(scores[r[S.USER_IDX], r[S.ITEM_IDX]], abs=1e-5)

    similar = {(r[S.ITEM_IDX], r[S.RANK]): r for r in model.similar_items(1).collect()}
    for j in range(TINY_ITEMS):
        col = b[:, j].copy()
        col[j] = -np.inf
        if (j, 1) in similar:
            assert similar[(j, 1)][SIMILAR_ITEM_IDX] == int(np.argmax(col))
        else:
            assert col.max() <= 0

    model.save(tmp_path / "ease")
    loaded = EASE.load(tmp_path / "ease")
    assert np.array_equal(loaded.weights, model.weights)
    assert sorted(loaded.recommend(users, 2, exclude=exclude).collect()) == sorted(rows)


def test_ease_weights_match_a_float64_inverse_on_a_larger_gram() -> None:
    """The in-place float32 Cholesky inverse, across several copy blocks of _fill_lower."""
    x = sp.random(400, 300, density=0.05, random_state=6, format="csr", dtype=np.float32)
    x.data[:] = 1.0
    gram = dense_gram(x, block_cells=300 * 7)
    assert np.array_equal(gram, (x.T @ x).toarray())
    want = _closed_form(x.toarray().astype(np.float64), 30.0)
    got = ease_weights(gram, 30.0)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    assert np.allclose(got, want, atol=1e-4)


def test_ease_refuses_a_catalog_the_memory_cannot_hold(tiny: DataFrame) -> None:
    with pytest.raises(ValueError, match="max_items"):
        EASE(max_items=5).fit(tiny, n_items=TINY_ITEMS)
    with pytest.raises(ValueError, match=r"6 items need 0\.0 GB .* more than the 0\.0 GB allowed"):
        EASE(max_memory_bytes=10).fit(tiny, n_items=TINY_ITEMS)
    with pytest.raises(ValueError, match=r"1,000,000 items need 4200\.0 GB"):
        EASE().check_fits(1_000_000)
    with pytest.raises(ValueError, match="outside"):
        EASE().fit(tiny, n_items=3)
