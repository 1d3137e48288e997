"""Petastorm feeding: every rank reads its own, disjoint shard of the examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from shoprec.training import data

# Petastorm 0.12 calls pyarrow APIs that pyarrow 14 marks deprecated.
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def test_each_rank_reads_a_disjoint_shard_and_together_all(
    spark: SparkSession, tmp_path: Path
) -> None:
    df = spark.range(200).select(
        F.col("id").alias("x"), F.array(F.col("id"), F.col("id") + 1).alias("pair")
    )
    converter = data.make_converter(df, cache_dir=tmp_path / "cache", shards=2)
    try:
        assert converter.dataset_size == 200
        shards = []
        for rank in range(2):
            loader_cm = data.shard_loader(
                converter, batch_size=16, cur_shard=rank, shard_count=2, seed=0, num_epochs=1
            )
            with loader_cm as loader:
                batches = list(loader)
            assert batches[0]["pair"].shape[1] == 2
            assert torch.equal(batches[0]["pair"][:, 0], batches[0]["x"])
            shards.append(set(torch.cat([b["x"] for b in batches]).tolist()))
        assert shards[0] and shards[1] and not shards[0] & shards[1]
        assert shards[0] | shards[1] == set(range(200))
    finally:
        converter.delete()


def test_too_few_files_for_the_shards_is_a_clear_error(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fewer than the 3 Horovod workers"):
        data.make_converter(spark.range(1), cache_dir=tmp_path, shards=3)


def test_steps_and_local_batches() -> None:
    assert data.steps_per_epoch(100, batch_size=16, workers=2) == 4
    assert data.steps_per_epoch(0, batch_size=16, workers=0) == 1
    arrays = {"x": np.arange(10), "w": np.ones((10, 2), np.float32)}
    first = list(data.local_batches(arrays, batch_size=4, seed=1, epoch=0))
    assert [len(b["x"]) for b in first] == [4, 4, 2]
    assert sorted(torch.cat([b["x"] for b in first]).tolist()) == list(range(10))
    again = list(data.local_batches(arrays, batch_size=4, seed=1, epoch=0))
    assert all(torch.equal(a["x"], b["x"]) for a, b in zip(first, again, strict=True))
    assert data.file_url("/tmp/x") == "file:///tmp/x" and data.file_url("s3://b/k") == "s3://b/k"


def test_local_arrays_do_not_depend_on_partitioning(spark: SparkSession) -> None:
    rows = [(u, [u % 3, u], float(u % 2)) for u in range(12)]
    frame = spark.createDataFrame(rows, "u long, seq array<long>, w double")
    one = data.local_arrays(frame.coalesce(1))
    shuffled = data.local_arrays(frame.repartition(3, F.rand(seed=5)))
    assert one.keys() == shuffled.keys() == {"u", "seq", "w"}
    for col in one:
        np.testing.assert_array_equal(one[col], shuffled[col])
    assert one["seq"].shape == (12, 2) and one["w"].dtype == np.float32
    # sorted by the first column, then the next
    assert one["u"].tolist() == list(range(12))
