from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from shoprec import schemas as S
from shoprec.models import CategoryPopularity, Popularity

from .conftest import TINY_ITEMS, frame, recs_by_user, users_frame

# Item totals by weight: 0:3 1:5 2:3 3:4 4:2 5:1; by distinct users: 0:3 1:3 2:2 3:3 4:2 5:1.


def test_popularity_by_weight_and_by_users(spark: SparkSession, tiny: DataFrame) -> None:
    model = Popularity("weight").fit(tiny, n_items=TINY_ITEMS)
    assert model.popularity is not None
    assert model.popularity.tolist() == [3.0, 5.0, 3.0, 4.0, 2.0, 1.0]
    top = [(r[S.ITEM_IDX], r[S.RANK]) for r in model.top_items(3).orderBy(S.RANK).collect()]
    assert top == [(1, 1), (3, 2), (0, 3)]
    # known user 3 (saw 3, 4), unknown user 42 gets the plain global order
    users = users_frame(spark, [3, 42])
    exclude = frame(spark, [(42, 1, 0.0)]).drop(S.WEIGHT)
    recs = recs_by_user(model.recommend(users, 3, exclude=exclude))
    assert recs == {3: [1, 0, 2], 42: [3, 0, 2]}
    by_users = Popularity("users").fit(tiny, n_items=TINY_ITEMS)
    assert by_users.popularity is not None
    assert by_users.popularity.tolist() == [3.0, 3.0, 2.0, 3.0, 2.0, 1.0]
    assert by_users.params() == {"model": "popularity", "by": "users"}


def test_category_popularity_prefers_users_categories(
    spark: SparkSession, tiny: DataFrame, tmp_path: Path
) -> None:
    items = spark.createDataFrame(
        [(0, "a"), (1, "a"), (2, "a"), (3, "b"), (4, "b"), (5, "b")],
        f"{S.ITEM_IDX} long, {S.CATEGORY} string",
    )
    # user 9 bought item 4 (category b): b's popular items first, then the global order
    train = tiny.unionByName(frame(spark, [(9, 4, 1.0)]))
    model = CategoryPopularity(items, top_categories=1).fit(train, n_items=TINY_ITEMS)
    users = users_frame(spark, [9, 0, 77])
    recs = recs_by_user(model.recommend(users, 4))
    assert recs[9] == [3, 5, 1, 0]  # b by popularity (3:4, 5:1), then global (1:5, 0:3)
    assert recs[0] == [3, 4, 5]  # saw all of a: only b's items remain
    assert recs[77] == [1, 3, 0, 2]  # unknown: global order (weight ties by index)
    cats = model.top_items(2).orderBy(S.CATEGORY, S.RANK).collect()
    assert [(r[S.CATEGORY], r[S.ITEM_IDX]) for r in cats] == [
        ("a", 1),
        ("a", 0),
        ("b", 3),
        ("b", 4),
    ]
    model.save(tmp_path / "catpop")
    loaded = CategoryPopularity.load(tmp_path / "catpop")
    assert recs_by_user(loaded.recommend(users, 4)) == recs
    assert loaded.similar_items(3) is None
