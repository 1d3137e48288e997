"""Horovod 0.28.1 (built by scripts/build_horovod_wheel.sh) works on this stack.

Proves that the patched CPU build imports against the installed torch with Gloo,
and that ``horovod.spark.run`` runs a 2-rank Gloo job inside a local[2] Spark
session (each rank is a Spark task that launches a Horovod worker process).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.slow

try:
    import horovod.torch as hvd
except ImportError as exc:  # not built yet, or built against another torch
    pytest.skip(
        f"horovod is not importable ({exc}); build it with scripts/build_horovod_wheel.sh",
        allow_module_level=True,
    )


def test_horovod_torch_built_with_gloo() -> None:
    import horovod

    assert horovod.__version__ == "0.28.1"
    assert hvd.gloo_built()
    assert not hvd.mpi_built()


@pytest.fixture(scope="module")
def local2_spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    # Spark's Python workers (and so the Horovod ranks, which default to the
    # worker's sys.executable) must run the interpreter that has horovod.
    saved = {k: os.environ.get(k) for k in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    created = SparkSession.getActiveSession() is None
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("test-horovod-spark-run")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    try:
        if spark.sparkContext.defaultParallelism < 2:
            pytest.skip("an active SparkSession with fewer than 2 task slots was reused")
        yield spark
    finally:
        if created:  # leave a session owned by another fixture alone
            spark.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.timeout(180)
def test_horovod_spark_run_gloo_allreduce(local2_spark: Any) -> None:
    import horovod.spark

    # Defined locally so cloudpickle ships it by value: the ranks cannot import
    # this test module.
    def fn() -> tuple[int, int, float]:
        import horovod.torch as hvd
        import torch

        hvd.init()
        try:
            avg = hvd.allreduce(torch.tensor([float(hvd.rank())]), name="rank", op=hvd.Average)
            return hvd.rank(), hvd.size(), float(avg.item())
        finally:
            hvd.shutdown()

    results = horovod.spark.run(fn, num_proc=2, use_gloo=True, start_timeout=60, verbose=0)

    assert len(results) == 2
    assert sorted(r[0] for r in results) == [0, 1]
    assert all(r[1] == 2 for r in results)
    assert all(r[2] == pytest.approx(0.5) for r in results)
