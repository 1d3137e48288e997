from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession

from shoprec.errors import InputError
from shoprec.lake import Lake
from shoprec.schemas import POPULAR_ITEMS, SIMILAR_ITEMS, USER_RECOMMENDATIONS
from shoprec.serving.publish import current_publication, publish, restore_previous

NOW = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)


def tables(spark: SparkSession, run: str, n: int) -> dict[str, DataFrame]:
    return {
        "gold.user_recommendations": spark.createDataFrame(
            [("u1", r, f"i{r}", 1.0 / r, "why", "ease", "v1", run, NOW) for r in range(1, n + 1)],
            USER_RECOMMENDATIONS,
        ),
        "gold.similar_items": spark.createDataFrame(
            [("i1", 1, "i2", 0.5, "why", "v1", run)], SIMILAR_ITEMS
        ),
        "gold.popular_items": spark.createDataFrame([("all", 1, "i1", 9.0, run)], POPULAR_ITEMS),
    }


def served(lake: Lake) -> set[str]:
    return {r[0] for r in lake.read("gold.user_recommendations").select("run_id").collect()}


def test_publish_then_restore_previous(spark: SparkSession, lake: Lake) -> None:
    publish(lake, tables(spark, "run-a", 3), run_id="run-a")
    publish(lake, tables(spark, "run-b", 5), run_id="run-b")
    assert served(lake) == {"run-b"} and lake.read("gold.user_recommendations").count() == 5
    assert current_publication(lake, "gold.user_recommendations") == "run-b"

    assert restore_previous(lake)["gold.user_recommendations"] == "run-a"
    assert served(lake) == {"run-a"} and lake.read("gold.user_recommendations").count() == 3
    assert current_publication(lake, "gold.similar_items") == "run-a"
    with pytest.raises(InputError, match="no earlier publication"):
        restore_previous(lake)

    publish(lake, tables(spark, "run-c", 2), run_id="run-c")
    assert served(lake) == {"run-c"}
    assert restore_previous(lake)["gold.popular_items"] == "run-b"
    # a rerun of publish for one run is not a publication to go back to
    publish(lake, tables(spark, "run-c", 2), run_id="run-c")
    publish(lake, tables(spark, "run-c", 2), run_id="run-c")
    assert restore_previous(lake)["gold.user_recommendations"] == "run-b"


def test_a_failed_publication_leaves_the_previous_one(spark: SparkSession, lake: Lake) -> None:
    publish(lake, tables(spark, "run-a", 3), run_id="run-a")
    broken = tables(spark, "run-b", 3)
    broken["gold.user_recommendations"] = broken["gold.user_recommendations"].drop("score")
    with pytest.raises(ValueError, match="lack columns"):
        publish(lake, broken, run_id="run-b")
    assert served(lake) == {"run-a"}
