"""The one Spark session factory.

Local by default (``local[2]`` with Delta Lake's extension and catalog, sized for a
2-core, 24 GB machine). Under spark-submit the master given on its command line wins
over conf's ``spark.master``, so the same conf runs a job locally and on YARN,
Kubernetes or a standalone cluster; executors, memory and Delta packages then come from
spark-submit and the platform, and this code is unchanged.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from shoprec.config import SparkConfig
from shoprec.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Settings every session gets; conf's spark.conf overrides them.
_BASE_CONF: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Spark's advice for HotSpot: a generated method over 8,000 bytes of bytecode is never
    # JIT-compiled, so a wide projection (the cleaning rules) ran interpreted. Above this
    # limit Spark splits the stage instead (measured: typing 1M events 11.8 s -> 6.5 s).
    "spark.sql.codegen.hugeMethodLimit": "8000",
    # Delta: never let a write silently add columns; schema changes are deliberate.
    "spark.databricks.delta.schema.autoMerge.enabled": "false",
    # Spark's default, plus the pseudonymization key's name: a platform that hands the
    # driver $SHOPREC_PSEUDONYMIZATION_KEY through Spark conf (YARN's appMasterEnv,
    # Kubernetes' driverEnv) has it redacted from the UI's environment and the event log.
    "spark.redaction.regex": "(?i)secret|password|token|access[.]?key|pseudonymi[sz]ation",
}

# Only for a local master: a cluster's own defaults know its size better.
_LOCAL_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # Small Delta logs are read far faster with few snapshot partitions.
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "4",
}


def delta_jars(jars_dir: str) -> list[str]:
    """The jar files in ``jars_dir`` (relative paths: the cwd, then the project root).

    Delta Lake's and Hadoop S3A's, as ``make setup`` resolves them with Maven.
    """
    candidates = [Path(jars_dir)]
    if not Path(jars_dir).is_absolute():
        candidates.append(PROJECT_ROOT / jars_dir)
    for folder in candidates:
        jars = sorted(folder.glob("*.jar"))
        if jars:
            return [str(j.resolve()) for j in jars]
    raise ConfigError(
        f"spark.jars_dir: no Delta Lake jars in {jars_dir!r}; run `make setup` "
        "(or set spark.jars_dir: null and pass --packages on a cluster)"
    )


def submitted_master() -> str | None:
    """The master spark-submit was given, when this process is a spark-submit driver."""
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # set by spark-submit for Python apps
        return None
    from pyspark import SparkConf, SparkContext

    # Connect to spark-submit's JVM first (getOrCreate would): a SparkConf made before
    # that is a plain dict, blind to the JVM's spark.* properties.
    SparkContext._ensure_initialized()
    master: str | None = SparkConf().get("spark.master", None)
    return master


def build_spark(cfg: SparkConfig, *, warehouse_dir: str | None = None) -> SparkSession:
    """Get or create the SparkSession described by ``cfg``.

    Example::

        spark = build_spark(load_settings("conf/local.yaml").spark)
    """
    conf = dict(_BASE_CONF)
    # Under spark-submit the command line's --master (and --name) win over conf's: one
    # conf file serves a laptop (shoprec run ...) and a cluster (spark-submit ... jobs/X.py).
    submitted = submitted_master()
    builder = SparkSession.builder
    if submitted is None:
        builder = builder.appName(cfg.app_name)
    master = submitted or cfg.master
    if master is not None:
        builder = builder.master(master)
        if master.startswith("local"):
            conf.update(_LOCAL_CONF)
            conf["spark.driver.memory"] = cfg.driver_memory
            # Python workers must be this interpreter (the project's venv).
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if cfg.jars_dir is not None:
        # On the class path rather than in spark.jars: nothing is copied per session
        # (the AWS SDK alone is 280 MB), and executors on the same hosts find the same
        # files. A cluster without them sets jars_dir: null and passes --packages.
        classpath = os.pathsep.join(delta_jars(cfg.jars_dir))
        conf["spark.driver.extraClassPath"] = classpath
        conf["spark.executor.extraClassPath"] = classpath
    if warehouse_dir is not None:
        conf["spark.sql.warehouse.dir"] = warehouse_dir
    conf.update(cfg.conf)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
