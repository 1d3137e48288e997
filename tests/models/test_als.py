from __future__ import annotations

from pathlib import Path

import numpy as np
from pyspark.sql import DataFrame, SparkSession

from shoprec import schemas as S
from shoprec.models import SIMILAR_ITEM_IDX, ALSRecommender

from .conftest import frame, recs_by_user, users_frame


def _co_consumed(spark: SparkSession) -> DataFrame:
    """Items 0 and 1 go together for 12 users; 2..5 are each bought alone; user 100 has 0."""
    rows = []
    for u in range(12):
        rows += [(u, 0, 3.0), (u, 1, 3.0)]
    for u in range(12, 24):
        rows.append((u, 2 + u % 4, 1.0))
    rows.append((100, 0, 3.0))
    return frame(spark, rows)


def test_als_ranks_co_consumed_item_first_deterministic_and_round_trips(
    spark: SparkSession, tmp_path: Path
) -> None:
    train = _co_consumed(spark).cache()
    kwargs = {"rank": 4, "reg_param": 0.01, "alpha": 5.0, "max_iter": 5, "seed": 3, "num_blocks": 2}
    model = ALSRecommender(**kwargs).fit(train, n_items=7)  # item 6 never seen
    users = users_frame(spark, [100, 12, 999])
    recs = model.recommend(users, 3)
    rows = sorted(recs.collect())
    by_user = recs_by_user(recs)
    assert set(by_user) == {100, 12}  # 999 unknown to ALS
    assert by_user[100][0] == 1  # the item co-consumed with 0
    assert 0 not in by_user[100]  # seen
    assert all(6 not in items for items in by_user.values())  # no factor: never recommended

    again = ALSRecommender(**kwargs).fit(train, n_items=7)
    assert np.array_equal(again.item_factors, model.item_factors)
    assert sorted(again.recommend(users, 3).collect()) == rows

    similar = {r[S.ITEM_IDX]: r[SIMILAR_ITEM_IDX] for r in model.similar_items(1).collect()}
    assert similar[0] == 1 and similar[1] == 0
    assert 6 not in similar

    model.save(tmp_path / "als")
    loaded = ALSRecommender.load(tmp_path / "als")
    assert loaded.params() == model.params()
    assert sorted(loaded.recommend(users, 3).collect()) == rows
    train.unpersist()
