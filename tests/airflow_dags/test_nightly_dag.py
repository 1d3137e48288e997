"""The nightly DAG: it parses cleanly, its tasks run in the order the pipeline needs, and
one scheduled night runs end to end with ``dag.test()``: on a Spark standalone cluster
against an S3 lake, in tests/cluster/test_on_cluster.py."""

from __future__ import annotations

import itertools

import pytest

from tests.airflow_dags.conftest import ROOT

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
    assert dag.get_task("ingest").downstream_task_ids == {"validate"}
    assert dag.get_task("validate").downstream_task_ids == {"features", "retention"}
    # Retention runs once validate is done, whatever its outcome, and nothing waits on it.
    retention = dag.get_task("retention")
    assert retention.trigger_rule == "all_done" and retention.downstream_task_ids == set()
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
