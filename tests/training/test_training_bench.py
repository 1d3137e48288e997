"""The training benchmark's data, plain-loop run and argument checks (no Horovod here)."""

from __future__ import annotations

import argparse

import pytest
from pyspark.sql import SparkSession

from shoprec import schemas as S
from shoprec.bench import training as bench


def test_plain_run_reports_throughput_against_itself(spark: SparkSession) -> None:
    df = bench.make_interactions(spark, users=40, items=20, per_user=2, groups=2, seed=1)
    rows = df.collect()
    assert len(rows) == 80
    assert len({(r[S.USER_IDX], r[S.ITEM_IDX]) for r in rows}) == 80  # distinct pairs
    assert all((r[S.ITEM_IDX] >= 10) == (r[S.USER_IDX] % 2 == 1) for r in rows)  # groups

    r = bench.run_benchmark(spark, df, n_items=20, model="lightgcn", workers=(), epochs=1, dim=4)
    assert r["n_examples"] == 80 and [run["setting"] for run in r["runs"]] == ["plain"]
    assert r["runs"][0]["examples"] == 80 and r["runs"][0]["loop_ratio"] == 1.0
    assert "plain" in bench.format_report(r)


def test_bad_arguments_are_rejected(spark: SparkSession) -> None:
    with pytest.raises(ValueError, match="per_user"):
        bench.make_interactions(spark, users=10, items=20, per_user=5, groups=10)
    with pytest.raises(argparse.ArgumentTypeError):
        bench._workers("0,2")
    assert bench._workers("1, 2") == (1, 2)
    with pytest.raises(ValueError, match="model"):
        bench.run_benchmark(spark, spark.range(1), n_items=1, model="bert4rec")
