"""The pipeline where its users run it: a Spark standalone cluster (a master and two
1-core workers, each its own JVM), an S3 lake (moto's server), an MLflow tracking
server whose artifacts are in the same bucket, and every task a separate spark-submit
of the built package, as README tells users to.

* Horovod: two ranks train a model in two different executor processes, checkpointing
  to the S3 lake.
* The Airflow DAG's night: ``dag.test()`` with the Spark connection pointed at the
  cluster and nothing else changed; then the ``shoprec`` read commands against the lake.
  With Spark's event log on, the night then looks for the pseudonymization key in every
  event log, the bucket (lake and MLflow artifacts), the cluster's and MLflow's files,
  Airflow's home and what the test printed and logged.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession

from tests.airflow_dags.conftest import ROOT  # sets up Airflow's environment
from tests.conftest import TEST_KEY, TINY_DATA_SPARK
from tests.leaks import Scan
from tests.servers import S3, Cluster, mlflow_server, spark_cluster

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
DAY = dt.date(2026, 11, 1)
SMALL_CLUSTER = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.ui.enabled": "false",
}

# Every task here is a JVM that lives a minute over a few hundred rows: the optimizing
# JIT compiler would spend more CPU than it saves (measured on this 2-core machine:
# ingest + validate as spark-submits took 5m39s of CPU with the default JIT, 2m47s
# with C1 only). A platform running real nights keeps the default.
SHORT_LIVED_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@dataclass(frozen=True)
class Stack:
    cluster: Cluster
    s3: S3
    tracking_uri: str
    package: Path  # the built wheel, as the zip spark-submit puts on executors' path
    env: dict[str, str]  # spark-submit's environment: the platform's spark-defaults


@pytest.fixture(scope="module")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "airflow_dags"))


@pytest.fixture(scope="module")
def stack(s3: S3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("cluster")
    dist = work / "dist"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"),
            *("-w", str(dist), str(ROOT)),
        ],
        check=True,
    )
    package = dist / "shoprec.zip"  # what `make wheel` writes beside the .whl
    shutil.copy(next(dist.glob("shoprec-*.whl")), package)
    # The platform's part (as a cluster image's spark-defaults.conf): Delta's and S3A's
    # jars on the driver's and executors' class path, and JVM options.
    jars = os.pathsep.join(sorted(glob.glob(str(ROOT / "build" / "jars" / "*.jar"))))
    conf_dir = work / "spark-conf"
    conf_dir.mkdir()
    (conf_dir / "spark-defaults.conf").write_text(
        f"spark.driver.extraClassPath {jars}\nspark.executor.extraClassPath {jars}\n"
        f"spark.driver.extraJavaOptions {SHORT_LIVED_JVM}\n"
        f"spark.executor.extraJavaOptions {SHORT_LIVED_JVM}\n"
        "spark.executor.memory 1g\n"
    )
    env = {
        **os.environ,
        "SPARK_CONF_DIR": str(conf_dir),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }
    with (
        mlflow_server(work, s3) as tracking,
        spark_cluster(work, workers=2, cores=1, java_options=SHORT_LIVED_JVM) as cluster,
    ):
        yield Stack(cluster, s3, tracking, package, env)


def test_horovod_ranks_run_in_two_executors(stack: Stack, tmp_path: Path) -> None:
    out = tmp_path / "ranks.json"
    checkpoints = stack.s3.uri("cluster-test", "checkpoints")
    conf = [f"--conf={k}={v}" for k, v in stack.s3.hadoop_conf().items()]
    done = subprocess.run(
        [
            *(str(BIN / "spark-submit"), "--master", stack.cluster.master, *conf),
            *("--py-files", str(stack.package)),
            *(str(ROOT / "tests" / "cluster" / "horovod_ranks.py"), str(out), checkpoints),
        ],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["backend"] == "horovod" and report["ranks"] == 2
    ranks = report["executors"]
    assert sorted(ranks) == ["0", "1"]
    executor_ids = {r["executor_id"] for r in ranks.values()}
    pids = {r["pid"] for r in ranks.values()}
    assert None not in executor_ids and len(executor_ids) == 2, ranks  # two executors...
    assert len(pids) == 2, ranks  # ...two JVM processes
    assert all(p.endswith("shoprec.zip/shoprec/__init__.py") for p in report["executor_shoprec"])
    assert len(report["losses"]) == 2 and report["losses"][1] < report["losses"][0]


def _shoprec(conf: Path, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "shoprec"), *args, "--conf", str(conf)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


def _app_names(event_logs: list[Path]) -> set[str]:
    """The application each event log is of (its SparkListenerApplicationStart)."""
    names = set()
    for path in event_logs:
        for line in path.read_text().splitlines():
            if '"SparkListenerApplicationStart"' in line:
                names.add(json.loads(line)["App Name"])
    return names


def test_dag_night_on_the_cluster_and_the_s3_lake(
    stack: Stack,
    dagbag,
    s3_spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:  # type: ignore[no-untyped-def]
    from airflow.utils import db

    from shoprec.config import load_settings
    from shoprec.lake import Lake, Storage, StorageOptions
    from shoprec.synthetic import ShopSpec, as_source, generate_shop

    s3 = stack.s3
    shop = tmp_path / "shop"
    generate_shop(ShopSpec(users=150, items=60, days=1, seed=5, start_date=DAY), shop)
    raw = s3.uri("raw", "shop")
    Storage(StorageOptions.from_spark(s3_spark)).upload(shop, raw)  # the shop's feeds on S3
    events = tmp_path / "events"
    events.mkdir()
    event_log = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": events.as_uri()}
    # The key in Spark conf, as a Kubernetes driver is handed its environment: redacted.
    key_in_conf = {"spark.kubernetes.driverEnv.SHOPREC_PSEUDONYMIZATION_KEY": TEST_KEY}
    settings = load_settings(ROOT / "conf" / "s3.yaml").with_overrides(
        {
            # sized for this tiny cluster (two 1-core executors), as a user sizes theirs
            "spark": {
                "conf": {
                    **s3.hadoop_conf(),
                    **SMALL_CLUSTER,
                    **TINY_DATA_SPARK,
                    **event_log,
                    **key_in_conf,
                },
                "jars_dir": None,
            },
            "lake": {"root": s3.uri("dag-lake")},
            "registry": {"tracking_uri": stack.tracking_uri},
            "privacy": {"key": TEST_KEY},
            "sources": [as_source(raw)],
            "models": {"enabled": ["popularity", "itemknn"]},
        }
    )
    conf = tmp_path / "cluster.yaml"
    conf.write_text(yaml.safe_dump(settings.model_dump(mode="json")))

    for key in ("SPARK_CONF_DIR", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"):
        monkeypatch.setenv(key, stack.env[key])  # the platform's Spark settings
    # The only change from a local run: the Spark connection names the cluster.
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPARK_DEFAULT",
        json.dumps({"conn_type": "spark", "host": stack.cluster.master}),
    )
    db.resetdb()
    dag = dagbag.dags["shoprec_nightly_recommendations"]
    for task in dag.tasks:
        task.retries = 0
    run = dag.test(
        logical_date=dt.datetime(2026, 11, 2, 2, tzinfo=dt.UTC),
        run_conf={
            "conf": str(conf),
            "jobs_dir": str(ROOT / "jobs"),
            "py_files": str(stack.package),
            "jars": "",
            "cli": str(BIN / "shoprec"),
        },
    )
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert all(s.endswith(("success", "skipped")) for s in states.values()), states
    assert states["publish"].endswith("success") and states["search_publish"].endswith("success")
    # every stage that starts Spark ran as an application of the cluster
    ran = set(stack.cluster.applications())
    for task in ("ingest", "validate", "features", "train_baselines", "evaluate", "score"):
        assert f"shoprec-{task}-{DAY:%Y%m%d}" in ran, (task, ran)
    assert {
        f"shoprec-{t}-{DAY:%Y%m%d}" for t in ("publish", "search_index", "search_publish")
    } <= ran

    lake = Lake(s3_spark, s3.uri("dag-lake"))
    recs = lake.read("gold.user_recommendations")
    assert recs.count() > 0 and recs.select("run_id").distinct().count() == 1
    runs = lake.read("ops.runs").where(f"run_date = DATE'{DAY}'").collect()
    assert {r["stage"] for r in runs} >= {"ingest", "validate", "features", "score", "publish"}
    # every stage's driver was a spark-submit to the cluster: the run ids tie them together
    assert {r["run_id"] for r in runs} == {recs.first()["run_id"]}
    assert lake.storage.listdir(lake.file_path("_quality", "docs", DAY.isoformat()))

    # The read commands, against the S3 lake.
    # (similar, status and restore read the nights' S3 lake in tests/stages/test_nightly.py;
    # each command here is its own process and JVM, as a user runs it)
    user = recs.first()["user_id"]
    assert user in _shoprec(conf, "recs", "--user", user)
    query = lake.read("gold.search_results").first()["query_norm"]
    assert query.split()[0] in _shoprec(conf, "search", query)
    gate = json.loads(_shoprec(conf, "gate", "--date", DAY.isoformat()).strip().splitlines()[-1])
    assert gate["promoted"] is False  # night one trains nothing

    # No secret in a plan, nor anywhere else the night wrote: every application's
    # event log (plans, properties, environment), the bucket (the lake, the feeds,
    # MLflow's artifacts), the cluster's daemon and executor logs and MLflow's store,
    # Airflow's home, and what the test's processes printed and logged.
    event_logs = sorted(events.iterdir())
    apps = {f"shoprec-{t}-{DAY:%Y%m%d}" for t in ("ingest", "validate", "score", "publish")}
    assert apps <= _app_names(event_logs), _app_names(event_logs)
    assert any(b"pseudonymize(user_id" in p.read_bytes() for p in event_logs)  # the plans
    scan = Scan.of(TEST_KEY)
    for path in event_logs:
        scan.file(path)
    scan.store(Storage(StorageOptions.from_spark(s3_spark)), s3.uri())
    scan.tree(stack.cluster.work_dir)
    scan.tree(Path(os.environ["AIRFLOW_HOME"]))
    printed = capfd.readouterr()
    logged = printed.out + printed.err + caplog.text
    assert f"publish {DAY}: gold." in logged  # the drivers' output, through Airflow's log
    scan.text(logged, "the test's output and logs")
    assert scan.files > 100 and scan.hits == [], scan.hits
