"""The nightly shoprec run as an Airflow 3 DAG: one spark-submit task per stage.

    ingest >> validate >> features >> train_* >> evaluate >> champion_gate
        champion_gate >> [promote_challenger, keep_champion] >> score >> publish
    features >> search_index >> search_train >> search_publish
    validate >> retention    (all_done: whatever validate's outcome)

Each stage is ``spark-submit jobs/<stage>.py --conf C --date D --run-id R`` (the
library does the work; this file only wires it); the train tasks add ``--models``:
the baselines in one, each neural model in its own. D is the data interval's start date
(the day whose logs the night processes); R is shared by every task of the DAG run, so
``ops.runs`` and the staged lists tie back to it. A validation failure fails the
validate task, and everything downstream is left undone (upstream_failed): nothing is
published. The champion gate branches on the decision evaluate made (``shoprec gate``):
``promote_challenger`` when tonight's model is not worse than the champion, otherwise
``keep_champion``. Either way score runs with the winner (the champion's model when it
holds), and publish moves the registry's champion alias only when the challenger won.
Retention drops the raw records past ``retention.raw_days`` every night, once validate
has read the night's own (a failed night included: personal data must not outstay its
time because a feed broke).

Deployment settings come from the environment of the Airflow workers (read when the
DAG file is parsed: plain lookups, no work) and can be overridden per run as params:

* ``SHOPREC_HOME``: the project checkout or install on the workers (jobs/ is there).
* ``SHOPREC_CONF``: the config file (default ``$SHOPREC_HOME/conf/prod.yaml``).
* ``SHOPREC_PY_FILES``: the built wheel shipped to the executors (``make wheel``).
* ``SHOPREC_JARS``: comma-separated Delta jars (``build/jars`` after ``make setup``).
* ``SHOPREC_CLI``: the ``shoprec`` executable the gate task calls.
* ``SHOPREC_SPARK_CONN``: the Airflow Spark connection (default ``spark_default``), which
  names the master: YARN, ``k8s://...``, ``spark://...`` or ``local[N]``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import BranchPythonOperator
from airflow.sdk import DAG, Param
from airflow.task.trigger_rule import TriggerRule
from airflow.timetables.interval import CronDataIntervalTimetable

log = logging.getLogger(__name__)

DAG_ID = "shoprec_nightly_recommendations"
HOME = os.environ.get("SHOPREC_HOME", "/opt/shoprec")
STAGES = (
    "ingest",
    "validate",
    "retention",
    "features",
    "evaluate",
    "score",
    "publish",
    "search_index",
    "search_train",
    "search_publish",
)
# Generous ceilings: a stage that runs past its timeout is killed and retried.
TIMEOUTS = {
    "ingest": dt.timedelta(hours=1),
    "validate": dt.timedelta(hours=2),
    "retention": dt.timedelta(hours=1),
    "features": dt.timedelta(hours=2),
    "evaluate": dt.timedelta(hours=2),
    "score": dt.timedelta(hours=2),
    "publish": dt.timedelta(minutes=30),
    "search_index": dt.timedelta(hours=1),
    "search_train": dt.timedelta(hours=2),
    "search_publish": dt.timedelta(hours=1),
}
# Training, one task per group: the baselines together, each neural model alone (its
# own retries, its own Horovod ranks, side by side on a cluster). The train stage
# trains the group's models that the conf enables; a task whose models are all
# disabled finishes at once. Evaluate reads every model's outcome.
TRAIN_GROUPS = {
    "train_baselines": "popularity,itemknn,als,ease",
    "train_two_tower": "two_tower",
    "train_gru4rec": "gru4rec",
    "train_sasrec": "sasrec",
    "train_lightgcn": "lightgcn",
}
TRAIN_TIMEOUT = dt.timedelta(hours=4)
RUN_DATE = "{{ data_interval_start | ds }}"
# Airflow's run ids hold ':' and '+', which Hadoop paths refuse; keep a safe form.
RUN_ID = "af-{{ run_id | replace(':', '') | replace('+', '_') }}"


def on_failure(context: dict[str, Any]) -> None:
    """One line an on-call engineer can act on; the place to add a pager or chat hook."""
    ti = context.get("task_instance")
    log.error(
        "shoprec nightly failed: dag=%s task=%s date=%s try=%s log=%s",
        DAG_ID,
        getattr(ti, "task_id", "?"),
        context.get("ds"),
        getattr(ti, "try_number", "?"),
        getattr(ti, "log_url", "?"),
    )


def choose_branch(cli: str, conf: str, run_date: str) -> str:
    """The gate's decision for ``run_date`` (``shoprec gate``), as the branch to follow."""
    import json
    import subprocess

    out = subprocess.run(
        [cli, "gate", "--conf", conf, "--date", run_date],
        check=True,
        capture_output=True,
        text=True,
    )
    decision = json.loads(out.stdout.strip().splitlines()[-1])
    log.info("champion gate for %s: %s", run_date, decision.get("reason"))
    return "promote_challenger" if decision["promoted"] else "keep_champion"


default_args: dict[str, Any] = {
    "owner": "shoprec",
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(hours=1),
    "execution_timeout": dt.timedelta(minutes=10),  # stages set their own below
    "on_failure_callback": on_failure,
}

with DAG(
    dag_id=DAG_ID,
    description="Nightly recommendations: logs -> lake -> models -> serving tables",
    # The interval [D 02:00, D+1 02:00) UTC runs once it has passed and processes D:
    # two hours for the shop's late events to land.
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    catchup=True,  # backfills and missed nights run in date order...
    max_active_runs=1,  # ...one at a time: each night builds on the one before
    default_args=default_args,
    params={
        "conf": Param(os.environ.get("SHOPREC_CONF", f"{HOME}/conf/prod.yaml"), type="string"),
        "jobs_dir": Param(f"{HOME}/jobs", type="string"),
        "py_files": Param(os.environ.get("SHOPREC_PY_FILES", ""), type="string"),
        "jars": Param(os.environ.get("SHOPREC_JARS", ""), type="string"),
        "cli": Param(os.environ.get("SHOPREC_CLI", "shoprec"), type="string"),
    },
    tags=["shoprec", "recommendations"],
) as dag:

    def stage_task(task_id: str, stage: str, *extra_args: str, **kwargs: Any) -> Any:
        return SparkSubmitOperator(
            task_id=task_id,
            conn_id=os.environ.get("SHOPREC_SPARK_CONN", "spark_default"),
            application=f"{{{{ params.jobs_dir }}}}/{stage}.py",
            application_args=[
                "--conf",
                "{{ params.conf }}",
                "--date",
                RUN_DATE,
                "--run-id",
                RUN_ID,
                *extra_args,
            ],
            py_files="{{ params.py_files or '' }}",
            jars="{{ params.jars or '' }}",
            name=f"shoprec-{task_id}-{{{{ data_interval_start | ds_nodash }}}}",
            **kwargs,
        )

    tasks: dict[str, Any] = {
        stage: stage_task(
            stage,
            stage,
            execution_timeout=TIMEOUTS[stage],
            # A blocking validation failure is the data, not the cluster: fail at once.
            retries=0 if stage == "validate" else default_args["retries"],
        )
        for stage in STAGES
    }
    train = [
        stage_task(task_id, "train", "--models", models, execution_timeout=TRAIN_TIMEOUT)
        for task_id, models in TRAIN_GROUPS.items()
    ]

    gate = BranchPythonOperator(
        task_id="champion_gate",
        python_callable=choose_branch,
        op_kwargs={"cli": "{{ params.cli }}", "conf": "{{ params.conf }}", "run_date": RUN_DATE},
        execution_timeout=dt.timedelta(minutes=5),
    )
    promote = EmptyOperator(task_id="promote_challenger")
    keep = EmptyOperator(task_id="keep_champion")
    tasks["score"].trigger_rule = TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
    tasks["retention"].trigger_rule = TriggerRule.ALL_DONE

    tasks["ingest"] >> tasks["validate"] >> tasks["features"] >> train
    tasks["validate"] >> tasks["retention"]
    train >> tasks["evaluate"] >> gate
    gate >> [promote, keep]
    [promote, keep] >> tasks["score"] >> tasks["publish"]
    # Search learns from the same silver; it runs beside the recommenders.
    tasks["features"] >> tasks["search_index"] >> tasks["search_train"] >> tasks["search_publish"]
