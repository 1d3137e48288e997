"""The recommendation half of the nightly pipeline, end to end on a small synthetic shop.

Four nights (the ``nights`` fixture of tests/conftest.py): too little history to train
on the first two (popularity is served), then two that tune, evaluate and serve the
selected model, the classical ones first and every model on the last. The notebooks
under notebooks/ run here too, against the lake these nights build (one lake, one worker).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.config import MODEL_NAMES, Settings
from shoprec.lake import Lake
from shoprec.models.factory import MODEL_CLASSES
from shoprec.registry import Registry
from shoprec.serving.publish import current_publication, restore_previous
from shoprec.stages.handoff import model_folder, models_dir, read_selected, read_trained
from shoprec.stages.nightly import NightReport, run_stage
from tests.conftest import NIGHTS, NIGHTS_START, TEST_KEY
from tests.leaks import Scan

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

START = NIGHTS_START
DAYS = NIGHTS


@pytest.fixture(scope="module")
def conf(nights_conf: Settings) -> Settings:
    return nights_conf


@pytest.fixture(scope="module")
def lake(spark: SparkSession, conf: Settings, nights: list[NightReport]) -> Lake:
    return Lake(spark, conf.lake.root)


def test_first_nights_serve_popularity(lake: Lake, nights: list[NightReport]) -> None:
    first = next(r for r in nights[0].stages if r.stage == "train")
    assert "not enough history" in first.notes[0]
    runs = lake.read("ops.runs").where(F.col("stage") == "score").orderBy("run_date").collect()
    assert runs[0]["model_version"].startswith("popularity@")
    assert not runs[-1]["model_version"].startswith("popularity@")


def test_personalized_models_beat_popularity(lake: Lake) -> None:
    tonight = lake.read("ops.metrics").where(F.col("run_date") == F.lit(DAYS[-1]))
    segments = {r[0] for r in tonight.select("segment").distinct().collect()}
    assert {"all", "warm_users", "cold_users"} <= segments
    metrics = {
        (r[S.MODEL_NAME], r["metric"]): r["value"]
        for r in tonight.where(F.col("segment") == "all").collect()
    }
    assert {m for m, _ in metrics} == set(MODEL_NAMES)  # baselines and neural, one split
    best_personal = max(metrics[(m, "ndcg@20")] for m in ("itemknn", "als", "ease"))
    assert best_personal > 1.2 * metrics[("popularity", "ndcg@20")]
    for m in MODEL_NAMES:
        assert metrics[(m, "ndcg@20")] > 0, m
        assert 0 <= metrics[(m, "recall@20")] <= 1 and 0 <= metrics[(m, "coverage@20")] <= 1


def test_serving_tables_follow_the_contract(lake: Lake, conf: Settings) -> None:
    recs = lake.read("gold.user_recommendations")
    assert recs.columns == [f.name for f in S.USER_RECOMMENDATIONS.fields]
    per_user = recs.groupBy(S.USER_ID).agg(F.count("*").alias("n"), F.max(S.RANK).alias("top"))
    assert per_user.where("n != top or n > 10").count() == 0
    assert recs.where(F.col("reason").isNull() | (F.length("reason") == 0)).count() == 0
    assert recs.select(S.RUN_ID).distinct().count() == 1
    items = lake.read("gold.item_features").where(F.col(S.AS_OF_DATE) == F.lit(DAYS[-1]))
    unavailable = items.where(~F.col(S.AVAILABLE)).select(S.ITEM_ID)
    assert recs.join(unavailable, S.ITEM_ID).count() == 0
    bought = (
        lake.read("silver.events")
        .where(F.col(S.EVENT_TYPE) == S.PURCHASE)
        .select(S.USER_ID, S.ITEM_ID)
        .distinct()
    )
    repeat = items.where(F.col("category_l1").isin("grocery", "pets")).select(S.ITEM_ID)
    again = recs.join(bought, [S.USER_ID, S.ITEM_ID]).join(repeat, S.ITEM_ID, "left_anti")
    assert again.count() == 0  # bought items come back only in repeat-purchase categories
    similar = lake.read("gold.similar_items")
    assert (
        similar.count() > 0
        and similar.where(F.col(S.ITEM_ID) == F.col(S.SIMILAR_ITEM_ID)).count() == 0
    )
    popular = lake.read("gold.popular_items")
    assert popular.where(F.col(S.CATEGORY) == "all").count() > 0


def test_id_map_is_stable_across_nights(lake: Lake) -> None:
    ids = lake.read("gold.id_map")
    assert ids.groupBy(S.ENTITY, "id").count().where("count > 1").count() == 0
    assert ids.groupBy(S.ENTITY, "idx").count().where("count > 1").count() == 0
    firsts = {r[0] for r in ids.select("first_seen").distinct().collect()}
    assert min(firsts) == DAYS[0] and len(firsts) > 1  # later nights appended new ids


def test_restore_previous_publication(spark: SparkSession, lake: Lake, conf: Settings) -> None:
    served = current_publication(lake, "gold.user_recommendations")
    restored = restore_previous(lake, run_id="test-restore", locks=conf.locks)
    assert restored["gold.user_recommendations"] != served
    assert {
        r[0] for r in lake.read("gold.user_recommendations").select(S.RUN_ID).distinct().collect()
    } == {restored["gold.user_recommendations"]}
    run_stage(spark, conf, "publish", DAYS[-1])  # put tonight's lists back
    assert current_publication(lake, "gold.user_recommendations") == served


def test_features_rerun_is_identical(spark: SparkSession, lake: Lake, conf: Settings) -> None:
    def counts() -> dict[str, int]:
        return {
            n: lake.read(n).where(F.col(S.AS_OF_DATE) == F.lit(DAYS[1])).count()
            for n in ("gold.interactions", "gold.item_cooccurrence", "gold.user_sequences")
        }

    before, id_rows = counts(), lake.read("gold.id_map").count()
    run_stage(spark, conf, "features", DAYS[1])
    assert counts() == before and lake.read("gold.id_map").count() == id_rows
    assert read_selected(lake, DAYS[-1]) is not None


def test_train_task_for_some_models_leaves_the_others(
    spark: SparkSession, lake: Lake, conf: Settings
) -> None:
    """The DAG trains model groups in separate tasks: each writes only its own outcome."""
    trained = models_dir(lake, DAYS[-1]) + "/trained"
    assert lake.storage.listdir(trained) == sorted(f"{m}.json" for m in MODEL_NAMES)
    # plant a mark in every outcome: the subset's own is rewritten, the others stay
    for m in MODEL_NAMES:
        path = f"{trained}/{m}.json"
        lake.storage.write_json(path, {**lake.storage.read_json(path), "mark": m})
    report = run_stage(spark, conf, "train", DAYS[-1], models=("popularity",))
    assert report.counts == {"models": 1}
    marks = {m: lake.storage.read_json(f"{trained}/{m}.json").get("mark") for m in MODEL_NAMES}
    assert marks == {m: (None if m == "popularity" else m) for m in MODEL_NAMES}
    fitted, skipped = read_trained(lake, DAYS[-1], MODEL_NAMES)
    assert set(fitted) == set(MODEL_NAMES) and not skipped
    assert lake.storage.exists(model_folder(lake, DAYS[-1], "popularity") + "/meta.json")


def test_champion_gate_and_registry(lake: Lake, conf: Settings, tmp_path: Path) -> None:
    gate = (
        lake.read("ops.metrics")
        .where(F.col("protocol") == "champion_gate")
        .groupBy("run_date")
        .pivot("metric")
        .agg(F.first("value"))
        .orderBy("run_date")
        .collect()
    )
    # Nights 3 and 4 train: the first promotes (no champion yet), the second compares
    # every model with the champion the classical models gave.
    assert [r["run_date"] for r in gate] == DAYS[2:]
    assert gate[0]["promoted"] == 1.0 and gate[0]["champion_ndcg@20"] is None
    last = gate[1]
    assert last["champion_ndcg@20"] is not None
    assert last["promoted"] == float(last["challenger_ndcg@20"] >= last["champion_ndcg@20"])

    registry = Registry(conf.registry, conf.lake.root)
    champion = registry.champion()
    assert champion is not None and champion.run_date in {d.isoformat() for d in DAYS[2:]}
    served = lake.read("gold.user_recommendations").select(S.MODEL_VERSION).distinct().collect()
    assert [r[0] for r in served] == [f"{conf.registry.registered_model}/{champion.version}"]
    # The champion's artifact is the saved model; it loads and recommends.
    folder = registry.download(champion, tmp_path / "champion")
    model = MODEL_CLASSES[champion.model_name].load(folder)
    assert model.n_items > 0
    # No form of the pseudonymization key in what the nights logged to MLflow.
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=conf.registry.tracking_uri)
    exp = client.get_experiment_by_name(conf.registry.experiment)
    runs = client.search_runs([exp.experiment_id]) if exp is not None else []
    versions = client.search_model_versions(f"name = '{conf.registry.registered_model}'")
    logged = [(r.data.params, r.data.tags) for r in runs] + [v.tags for v in versions]
    assert runs and versions
    scan = Scan.of(TEST_KEY)
    scan.text(json.dumps(logged), "MLflow params and tags")
    assert scan.hits == []


def test_read_commands_against_the_s3_lake(
    lake: Lake, conf: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """shoprec recs, similar, status, gate and restore read the lake on object storage."""
    import yaml

    from shoprec.cli import main

    conf_file = tmp_path / "conf.yaml"
    conf_file.write_text(yaml.safe_dump(conf.model_dump(mode="json")))
    c = ["--conf", str(conf_file)]

    def run(*args: str) -> str:
        assert main([*args, *c]) == 0, args
        return capsys.readouterr().out

    recs = lake.read("gold.user_recommendations")
    user = recs.first()[S.USER_ID]
    assert user in run("recs", "--user", user)
    item = lake.read("gold.similar_items").first()[S.ITEM_ID]
    assert item in run("similar", "--item", item)
    assert "publish" in run("status", "--date", DAYS[-1].isoformat())
    gate = json.loads(run("gate", "--date", DAYS[-1].isoformat()).strip().splitlines()[-1])
    assert gate["metric"] == conf.evaluation.gate_metric
    served = current_publication(lake, "gold.user_recommendations")
    run("restore")
    assert current_publication(lake, "gold.user_recommendations") != served
    run("run", "publish", "--date", DAYS[-1].isoformat())  # tonight's lists back
    assert current_publication(lake, "gold.user_recommendations") == served


@pytest.mark.slow
@pytest.mark.parametrize("name", ["exploration", "model_report"])
def test_notebook_runs(
    name: str, conf: Settings, lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each notebook runs top to bottom (nbclient) and draws its charts."""
    import nbformat
    import yaml
    from nbclient import NotebookClient

    conf_file = tmp_path / "conf.yaml"
    conf_file.write_text(yaml.safe_dump(conf.model_dump(mode="json")))
    monkeypatch.setenv("SHOPREC_CONF", str(conf_file))
    monkeypatch.setenv("SHOPREC_LAKE", conf.lake.root)
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(
        book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert [o for o in outputs if "image/png" in o.get("data", {})], f"{name} drew no chart"


def test_forget_leaves_no_trace_of_the_users(lake: Lake, conf: Settings) -> None:
    """Forget two customers who have served lists, with files vacuumed at once, then read
    every byte under the lake (Parquet decoded, the rest as stored): none of their shop
    ids or pseudonyms. Last in this file: it changes the shared lake."""
    from shoprec.clean.privacy import pseudonym_of
    from shoprec.serving.publish import current, read_published
    from shoprec.stages.context import RunContext
    from shoprec.stages.forget import forget
    from shoprec.stages.runs import new_run_id

    key = conf.privacy.resolve_key()
    served = {
        r[0] for r in read_published(lake, "gold.user_recommendations").select(S.USER_ID).collect()
    }
    records = lake.read("bronze.events").select(S.RECORD).limit(5000).collect()
    shop_ids = sorted({json.loads(r[0])["user_id"] for r in records if r[0].startswith("{")})
    chosen = [i for i in shop_ids if i and pseudonym_of(i, key) in served][:2]
    assert len(chosen) == 2

    now = conf.with_overrides({"retention": {"vacuum_hours": 0}})
    ctx = RunContext.create(lake.spark, now, DAYS[-1], new_run_id(DAYS[-1]))
    removed = forget(ctx, chosen).tables
    assert removed["gold.user_recommendations"] > 0 and removed["bronze.events"] > 0
    assert removed["silver.events"] > 0 and removed["gold.id_map"] == 2
    assert current(lake).action == "forget"  # type: ignore[union-attr]

    forms: dict[str, bytes] = {}
    for i in chosen:
        p = pseudonym_of(i, key)
        forms |= {f"id {i}": i.encode(), f"pseudonym of {i}": p.encode()}
        forms[f"start of the pseudonym of {i}"] = p[:20].encode()  # Delta's truncated stats
    scan = Scan(forms, [])
    scan.store(lake.storage, lake.root)
    assert scan.files > 100
    assert scan.hits == []
    record = lake.read("ops.runs").where(F.col("stage") == "forget").first()
    assert record is not None and record["status"] == "success" and " e_" in record["message"]
