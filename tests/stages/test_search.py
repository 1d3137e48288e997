"""The search stages end to end on a small synthetic shop loaded straight into silver.

One index for the last day, then two trainings: first with a train window longer than
the shop's history, as on a new shop (BM25 is published, and why is noted), then with
the normal one, where the ranker must beat BM25 on the later day and is published.
The restore test goes back from the ranker's publication to BM25's.
"""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.commands.search import search_command
from shoprec.config import Settings
from shoprec.lake import Lake
from shoprec.search.logs import searches as search_rows
from shoprec.search.suggestions import canonical_queries, head_queries, query_counts
from shoprec.serving.publish import SEARCH_SERVING_TABLES, current_publication, restore_previous
from shoprec.stages.context import RunContext, StageReport
from shoprec.stages.runs import new_run_id
from shoprec.stages.search_index import search_index
from shoprec.stages.search_publish import search_publish
from shoprec.stages.search_train import search_train
from shoprec.synthetic import ShopSpec
from tests.conftest import TEST_KEY
from tests.search.shop import START, load_shop

SPEC = ShopSpec(
    users=500,
    items=120,
    days=4,
    seed=5,
    start_date=START,
    sessions_per_user_per_day=1.0,
    search_session_rate=0.7,
)


@pytest.fixture(scope="module")
def conf(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("search") / "lake"
    return Settings().with_overrides(
        {
            "lake": {"root": str(root)},
            "privacy": {"key": TEST_KEY},
            "search": {"train_days": 2, "num_trees": 100, "position_bias_iterations": 3},
        }
    )


@pytest.fixture(scope="module")
def lake(spark: SparkSession, conf: Settings, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = Lake(spark, conf.lake.root)
    load_shop(spark, lake, SPEC, tmp_path_factory.mktemp("shop"))
    return lake


@pytest.fixture(scope="module")
def nights(spark: SparkSession, conf: Settings, lake: Lake) -> dict[str, list[StageReport]]:
    day = SPEC.date(SPEC.days - 1)
    new_shop = conf.with_overrides({"search": {"train_days": 30}})
    first = RunContext.create(spark, new_shop, day, new_run_id(day))
    index = search_index(first)
    reports = {"first": [index, search_train(first), search_publish(first)]}
    ctx = RunContext.create(spark, conf, day, new_run_id(day))
    reports["last"] = [search_train(ctx), search_publish(ctx)]
    return reports


def test_a_new_shop_publishes_bm25_and_says_why(
    lake: Lake, nights: dict[str, list[StageReport]]
) -> None:
    train = nights["first"][1]
    assert "too little search history" in train.notes[0]
    runs = lake.read("ops.runs").where(F.col("stage") == "search_publish").orderBy("ended_at")
    first = runs.collect()[0]
    assert first["model_version"].startswith("search_bm25@")
    assert "BM25 served" in first["message"]


def test_the_ranker_beats_bm25_on_the_later_day(
    lake: Lake, nights: dict[str, list[StageReport]]
) -> None:
    day = SPEC.date(SPEC.days - 1)
    rows = lake.read("ops.metrics").where(
        (F.col("run_date") == F.lit(day)) & (F.col("protocol") == "search_time_split")
    )
    m = {(r[S.MODEL_NAME], r["metric"]): r["value"] for r in rows.collect()}
    assert m[("search_ranker", "ndcg@10")] > m[("search_bm25", "ndcg@10")]
    assert m[("search_ranker", "mrr")] > m[("search_bm25", "mrr")]
    assert 0 < m[("search_bm25", "ndcg@10")] < 1
    runs = lake.read("ops.runs").where(F.col("stage") == "search_publish").orderBy("ended_at")
    assert runs.collect()[-1]["model_version"].startswith("search_ranker@")


def test_published_results_follow_the_contract(
    lake: Lake, conf: Settings, nights: dict[str, list[StageReport]]
) -> None:
    res = lake.read("gold.search_results")
    assert res.columns == S.SEARCH_RESULTS.fieldNames()
    per_q = res.groupBy(S.QUERY_NORM).agg(F.count("*").alias("n"), F.max(S.RANK).alias("top"))
    assert per_q.where("n != top or n > 50").count() == 0
    assert res.select(S.RUN_ID).distinct().count() == 1
    day = SPEC.date(SPEC.days - 1)
    items = lake.read("silver.items").where(F.col(S.SNAPSHOT_DATE) == F.lit(day))
    assert res.join(items.where(~F.col(S.AVAILABLE)), S.ITEM_ID).count() == 0
    # published queries are head queries, which cover at least 90% of the searches
    rows = search_rows(lake.read("silver.events"))
    rewrites = lake.read("gold.search_query_rewrites").where(F.col(S.AS_OF_DATE) == F.lit(day))
    counts = query_counts(canonical_queries(rows, rewrites))
    head = head_queries(counts, share=0.9)
    covered = head.agg(F.sum(S.SEARCHES)).first()[0]  # type: ignore[index]
    assert covered >= 0.9 * rows.count()
    assert per_q.join(head, S.QUERY_NORM, "left_anti").count() == 0
    assert per_q.count() >= 0.5 * head.count()  # most head queries match something
    sug = lake.read("gold.query_suggestions")
    assert sug.where(F.col(S.PREFIX) == "p").count() > 0
    assert sug.where(~F.col(S.QUERY_NORM).startswith(F.col(S.PREFIX))).count() == 0


def test_rerunning_the_index_leaves_the_same_tables(
    spark: SparkSession, lake: Lake, conf: Settings, nights: dict[str, list[StageReport]]
) -> None:
    day = SPEC.date(SPEC.days - 1)

    def snapshot() -> dict[str, set[tuple[object, ...]]]:
        return {
            n: {tuple(r) for r in lake.read(n).where(F.col(S.AS_OF_DATE) == F.lit(day)).collect()}
            for n in ("gold.search_terms", "gold.search_query_rewrites")
        }

    before = snapshot()
    search_index(RunContext.create(spark, conf, day, new_run_id(day)))
    assert snapshot() == before


def test_search_command_serves_head_and_live_queries(
    lake: Lake, conf: Settings, nights: dict[str, list[StageReport]]
) -> None:
    head = lake.read("gold.search_results").where(F.col(S.RANK) == 1).first()
    assert head is not None
    rows = search_command(lake, conf, head[S.QUERY_NORM].upper() + " !", k=5)
    assert rows[0]["source"] == "published" and rows[0][S.ITEM_ID] == head[S.ITEM_ID]
    assert [r[S.RANK] for r in rows] == list(range(1, len(rows) + 1))
    live = search_command(lake, conf, "smartphnoe lte zzqx", user="u000001", k=5)
    assert live and all(r["source"] == "live" for r in live)
    assert live[0][S.QUERY_NORM].startswith("smartphone")  # the typo was corrected


def test_restore_brings_back_the_previous_search_publication(
    lake: Lake, conf: Settings, nights: dict[str, list[StageReport]]
) -> None:
    served = current_publication(lake, "gold.search_results")
    restored = restore_previous(
        lake, SEARCH_SERVING_TABLES, run_id="test-restore", locks=conf.locks
    )
    assert restored["gold.search_results"] != served
    assert lake.read("gold.search_results").select(S.MODEL_NAME).distinct().collect()[0][0] == (
        "search_bm25"
    )
