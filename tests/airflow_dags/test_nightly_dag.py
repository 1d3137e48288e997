"""The nightly DAG: it parses cleanly, its tasks run in the order the pipeline needs, and
one scheduled night runs end to end with ``dag.test()`` against local Spark."""

from __future__ import annotations

import datetime as dt
import glob
import itertools
import os
import sys
from pathlib import Path

import pytest
import yaml

from tests.airflow_dags.conftest import ROOT
from tests.conftest import TEST_KEY

DAG_ID = "shoprec_nightly_recommendations"


@pytest.fixture(scope="module")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "airflow_dags"))


def test_every_dag_file_imports(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    assert DAG_ID in dagbag.dag_ids


def test_task_order(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags[DAG_ID]
    train = {t for t in dag.task_ids if t.startswith("train_")}
    assert "train_baselines" in train
    chain = ["ingest", "validate", "features"]
    for up, down in itertools.pairwise(chain):
        assert dag.get_task(up).downstream_task_ids == {down}
    assert dag.get_task("features").downstream_task_ids == train | {"search_index"}
    assert dag.get_task("evaluate").upstream_task_ids == train
    assert dag.get_task("evaluate").downstream_task_ids == {"champion_gate"}
    for task_id in train:
        assert dag.get_task(task_id).downstream_task_ids == {"evaluate"}
    search = ["search_index", "search_train", "search_publish"]
    for up, down in itertools.pairwise(search):
        assert dag.get_task(up).downstream_task_ids == {down}
    assert dag.get_task("champion_gate").downstream_task_ids == {
        "promote_challenger",
        "keep_champion",
    }
    assert dag.get_task("score").upstream_task_ids == {"promote_challenger", "keep_champion"}
    assert dag.get_task("score").downstream_task_ids == {"publish"}
    assert dag.get_task("publish").downstream_task_ids == set()
    assert dag.max_active_runs == 1 and dag.catchup
    for task in dag.tasks:
        assert task.execution_timeout is not None, task.task_id
    assert dag.get_task("train_baselines").retries > 0 and dag.get_task("validate").retries == 0


def test_train_tasks_cover_every_model(dagbag) -> None:  # type: ignore[no-untyped-def]
    """Each model the library knows is trained by exactly one task, with --models."""
    from shoprec.config import MODEL_NAMES

    dag = dagbag.dags[DAG_ID]
    grouped: list[str] = []
    for task in dag.tasks:
        if task.task_id.startswith("train_"):
            assert task.application.endswith("/train.py"), task.task_id
            flag, models = task.application_args[-2:]
            assert flag == "--models", task.task_id
            grouped += models.split(",")
    assert sorted(grouped) == sorted(MODEL_NAMES)


def test_dag_file_does_no_work_at_import() -> None:
    source = (ROOT / "airflow_dags" / "nightly_recommendations.py").read_text()
    imports = [
        line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))
    ]
    assert all(
        m.split(".")[0] in {"__future__", "airflow", "datetime", "logging", "os", "typing"}
        for m in imports
    ), imports


@pytest.mark.slow
def test_one_night_end_to_end(dagbag, spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A fresh lake, one synthetic day: every task runs and the serving tables appear."""
    from shoprec.config import load_settings
    from shoprec.synthetic import ShopSpec, as_source, generate_shop

    day = dt.date(2026, 11, 1)
    shop = tmp_path / "shop"
    generate_shop(ShopSpec(users=150, items=60, days=1, seed=5, start_date=day), shop)
    lake = tmp_path / "lake"
    conf = tmp_path / "nightly.yaml"
    settings = load_settings(ROOT / "conf" / "local.yaml").with_overrides(
        {
            "lake": {"root": str(lake)},
            "privacy": {"key": TEST_KEY},
            "sources": [as_source(shop)],
            # the neural train tasks then finish without starting Spark (night one
            # trains nothing anyway: too little history)
            "models": {"enabled": ["popularity", "itemknn"]},
        }
    )
    conf.write_text(yaml.safe_dump(settings.model_dump(mode="json")))
    from airflow.utils import db

    db.resetdb()  # dag.test() records its run in Airflow's (throwaway) metadata database
    jars = ",".join(sorted(glob.glob(str(ROOT / "build" / "jars" / "*.jar"))))
    dag = dagbag.dags[DAG_ID]
    for task in dag.tasks:
        task.retries = 0  # a failure should fail the test now, not wait for a retry
    run = dag.test(
        logical_date=dt.datetime(
            2026, 11, 2, 2, tzinfo=dt.UTC
        ),  # a manual run processes the last full interval: D = 11-01
        run_conf={
            "conf": str(conf),
            "jobs_dir": str(ROOT / "jobs"),
            "jars": jars,
            "cli": str(Path(sys.executable).parent / "shoprec"),
        },
    )
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["publish"].endswith("success"), states
    assert all(states[t].endswith("success") for t in states if t.startswith("train_")), states
    assert states["search_publish"].endswith("success"), states
    assert states["keep_champion"].endswith("success")  # nothing trained on night one
    assert states["promote_challenger"].endswith("skipped")

    from shoprec.lake import Lake

    lk = Lake(spark, str(lake))
    recs = lk.read("gold.user_recommendations")
    assert recs.count() > 0 and recs.select("run_id").distinct().count() == 1
    runs = lk.read("ops.runs").where("run_date = DATE'2026-11-01'")
    assert {r["stage"] for r in runs.collect()} >= {"ingest", "validate", "publish"}
    assert {r["run_id"] for r in runs.collect()} == {recs.first()["run_id"]}
    assert os.environ["AIRFLOW_HOME"]
