"""Submitted by tests/cluster/test_on_cluster.py with spark-submit to the test cluster.

Trains a two-tower model with two Horovod ranks on the executors (the project's own
training path: Petastorm shards, Gloo, rank-0 checkpoints on the S3 lake) and writes
where each rank ran, as JSON, to the path given as the first argument.

    spark-submit --master spark://... --py-files dist/shoprec-*.whl \\
        tests/cluster/horovod_ranks.py OUT.json s3a://bucket/checkpoints
"""

from __future__ import annotations

import json
import sys

import numpy as np

import shoprec
from shoprec.config import SparkConfig
from shoprec.models.neural import TwoTower
from shoprec.spark import build_spark


def main(out: str, checkpoints: str) -> None:
    spark = build_spark(SparkConfig(master=None, jars_dir=None))
    rng = np.random.default_rng(0)
    rows = [
        (int(u), int(i), 1.0, int(t))
        for t, (u, i) in enumerate(
            zip(rng.integers(0, 200, 4000), rng.integers(0, 50, 4000), strict=True)
        )
    ]
    train = spark.createDataFrame(rows, "user_idx long, item_idx long, weight double, last_ts long")
    model = TwoTower(dim=8, epochs=2, batch_size=256, workers=2, checkpoint_dir=checkpoints)
    model.fit(train, n_items=50)
    result = model.train_result
    assert result is not None
    # The Python the executors run: shoprec from the submitted wheel, not from a checkout.
    where = spark.sparkContext.parallelize([0, 1], 2).map(lambda _: shoprec.__file__).collect()
    report = {
        "backend": result.backend,
        "ranks": result.ranks,
        "executors": result.extra["executors"],
        "executor_shoprec": sorted(set(where)),
        "losses": result.losses,
    }
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
