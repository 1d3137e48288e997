"""SharedArray: one file per executor, memory-mapped by every Python worker."""

from __future__ import annotations

import pickle

import numpy as np
from pyspark.sql import SparkSession

from shoprec.models.shared import SharedArray


def test_workers_map_the_shipped_file_and_the_driver_keeps_its_array(
    spark: SparkSession,
) -> None:
    array = np.arange(300_000, dtype=np.float32).reshape(300, 1000)  # 1.2 MB
    side = SharedArray(spark.sparkContext, array, "test")
    assert side.value is array  # the driver uses its own array
    assert len(pickle.dumps(side)) < 1_000  # tasks carry the file's name, not the array

    def seen(rows: object) -> list[tuple[bool, float, tuple[int, ...]]]:
        value = side.value
        return [(isinstance(value, np.memmap), float(value.sum()), value.shape)]

    out = spark.sparkContext.parallelize(range(4), 2).mapPartitions(seen).collect()
    assert out == [(True, float(array.sum()), (300, 1000))] * 2
    side.unpersist()
    assert side.value is array
