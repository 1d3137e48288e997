from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from pyspark.sql import DataFrame, SparkSession

from shoprec import schemas as S
from shoprec.models import SIMILAR_ITEM_IDX, ItemKNN
from shoprec.models.cooccurrence import capped_histories, history_matrix, top_per_row

from .conftest import TINY, TINY_ITEMS, TINY_USERS, dense, recs_by_user, users_frame


def _expected_similarity(x: np.ndarray, shrinkage: float, neighbours: int) -> np.ndarray:
    g = x.T @ x
    norms = np.sqrt(np.diag(g))
    sim = g / (np.outer(norms, norms) + shrinkage)
    np.fill_diagonal(sim, 0.0)
    out = np.zeros_like(sim)
    for i, row in enumerate(sim):
        order = np.lexsort((np.arange(len(row)), -row))[:neighbours]
        keep = order[row[order] > 0]
        out[i, keep] = row[keep]
    return out


def test_history_matrix_caps_each_user_at_the_heaviest_items(tiny: DataFrame) -> None:
    # user 0 keeps item 2 (weight 2) and item 0 (ties at 1 go to the lower index)
    capped = capped_histories(tiny.where("user_idx = 0"), binary=True, max_user_items=2)
    x = history_matrix(capped, TINY_ITEMS)
    assert x.shape == (1, TINY_ITEMS) and x.toarray().tolist() == [[1, 0, 1, 0, 0, 0]]
    weighted = history_matrix(capped_histories(tiny, binary=False, max_user_items=None), TINY_ITEMS)
    x_all = dense(TINY, TINY_USERS, TINY_ITEMS)
    assert sorted(map(tuple, weighted.toarray().tolist())) == sorted(map(tuple, x_all.tolist()))


def test_item_knn_neighbours_scores_and_round_trip(
    spark: SparkSession, tiny: DataFrame, tmp_path: Path
) -> None:
    model = ItemKNN(neighbours=2, shrinkage=1.0).fit(tiny, n_items=TINY_ITEMS)
    want = _expected_similarity((dense(TINY, TINY_USERS, TINY_ITEMS) > 0) * 1.0, 1.0, 2)
    assert model.similarity is not None
    assert np.allclose(model.similarity.toarray(), want, atol=1e-6)

    similar = model.similar_items(2).collect()
    got = {(r[S.ITEM_IDX], r[S.RANK]): (r[SIMILAR_ITEM_IDX], r[S.SCORE]) for r in similar}
    assert got[(0, 1)][0] == 1 and got[(0, 2)][0] == 2  # 0 co-occurs with 1 (2 users), 2 (1)
    assert got[(3, 1)][0] == 4
    assert got[(0, 1)][1] == pytest.approx(want[0, 1])

    users = users_frame(spark, [1, 3, 404])
    recs = model.recommend(users, 3)
    rows = {(r[S.USER_IDX], r[S.ITEM_IDX]): r[S.SCORE] for r in recs.collect()}
    by_user = recs_by_user(recs)
    assert 404 not in by_user  # unknown user: nothing
    assert by_user[1][0] == 2  # user 1 has 0 and 1, both neighbours of 2
    x = dense(TINY, TINY_USERS, TINY_ITEMS)
    assert rows[(1, 2)] == pytest.approx(float(x[1] @ want[:, 2]), rel=1e-5)
    assert set(by_user[3]).isdisjoint({3, 4})  # seen items never come back
    assert all(score > 0 for score in rows.values())

    model.save(tmp_path / "knn")
    loaded = ItemKNN.load(tmp_path / "knn")
    assert loaded.params() == model.params()
    assert sorted(loaded.recommend(users, 3).collect()) == sorted(recs.collect())


def test_top_per_row_keeps_the_largest_positive_entries_and_the_lower_columns_on_ties() -> None:
    rng = np.random.default_rng(3)
    dense_m = rng.integers(-2, 4, size=(40, 30)).astype(np.float64)  # many ties, some <= 0
    dense_m[5] = 0.0  # an empty row
    rows, cols, vals = top_per_row(sp.csr_matrix(dense_m), 4)
    got = {(int(r), int(c)): v for r, c, v in zip(rows, cols, vals, strict=True)}
    want = {}
    for r, row in enumerate(dense_m):
        order = np.lexsort((np.arange(len(row)), -row))[:4]
        want.update({(r, int(c)): row[c] for c in order if row[c] > 0})
    assert got == want


def test_item_knn_blocks_and_settings_give_the_same_neighbours(tiny: DataFrame) -> None:
    """Two items per task and two settings in one pass match one setting per fit."""
    settings = [(2, 1.0), (1, 0.0)]
    models = [ItemKNN(k, s, block_cells=2 * TINY_ITEMS) for k, s in settings]
    ItemKNN.fit_all(models, tiny, n_items=TINY_ITEMS)
    x = (dense(TINY, TINY_USERS, TINY_ITEMS) > 0) * 1.0
    for model, (k, shrink) in zip(models, settings, strict=True):
        assert model.similarity is not None
        assert np.allclose(model.similarity.toarray(), _expected_similarity(x, shrink, k))
