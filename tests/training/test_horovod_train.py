"""Two Horovod ranks on local[2] train to the quality of one process, with checkpoints.

Slow (a ``horovod.spark.run`` job starts two Spark tasks that each launch a Horovod
worker with torch), so one job covers the distributed path: Petastorm shards, the
Gloo allreduce, rank 0's checkpoints and the parameters it returns.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from shoprec.models.neural import LightGCN

from ..models.conftest import frame, planted, recs_by_user, users_frame

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning")]
K = 3

try:
    import horovod.torch  # noqa: F401
except ImportError as exc:
    pytest.skip(f"horovod is not importable ({exc})", allow_module_level=True)


def _precision(recs: dict[int, list[int]], held: dict[int, set[int]]) -> float:
    hits = sum(len(set(recs.get(u, [])) & items) for u, items in held.items())
    return hits / (K * len(held))


@pytest.mark.timeout(300)
def test_two_horovod_workers_reach_the_single_process_quality(
    spark: SparkSession, tmp_path: Path
) -> None:
    if spark.sparkContext.defaultParallelism < 2:
        pytest.skip("needs 2 Spark task slots")
    rows, held, n_items = planted(seed=5)
    train = frame(spark, rows).cache()
    users = users_frame(spark, held)
    settings = {"dim": 16, "epochs": 30, "batch_size": 64, "lr": 0.05, "seed": 2}

    single = LightGCN(workers=0, **settings).fit(train, n_items=n_items)
    p_single = _precision(recs_by_user(single.recommend(users, K)), held)

    folder = tmp_path / "ckpt"
    two = LightGCN(
        workers=2, checkpoint_dir=str(folder), cache_dir=str(tmp_path / "petastorm"), **settings
    ).fit(train, n_items=n_items)
    result = two.train_result
    assert result is not None and result.backend == "horovod" and result.ranks == 2
    assert result.examples == 2 * result.extra["steps_per_epoch"] * 64 * 30  # full batches
    assert len(result.losses) == 30 and result.losses[-1] < result.losses[0]
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-0029.pt", "epoch-0030.pt"]
    assert not list((tmp_path / "petastorm").iterdir())  # the materialised examples are gone

    p_two = _precision(recs_by_user(two.recommend(users, K)), held)
    assert p_single > 0.25 and p_two > 0.25, (p_single, p_two)
    assert abs(p_two - p_single) <= 0.1, (p_single, p_two)
    train.unpersist()


@pytest.mark.timeout(300)
def test_horovod_ranks_stop_early_together_on_rank_zeros_validation(spark: SparkSession) -> None:
    if spark.sparkContext.defaultParallelism < 2:
        pytest.skip("needs 2 Spark task slots")
    rows, _, n_items = planted(seed=5)
    train = frame(spark, rows).cache()
    model = LightGCN(workers=2, dim=16, epochs=40, batch_size=64, lr=0.05, seed=2, patience=2).fit(
        train, n_items=n_items
    )
    result = model.train_result
    assert result is not None and result.backend == "horovod" and result.best_epoch is not None
    # every epoch was scored on rank 0, the ranks stopped together, the best one was kept
    assert len(result.scores) == len(result.losses) <= 40
    assert result.scores[result.best_epoch - 1] == max(result.scores)
    assert (len(result.scores) < 40) == (len(result.scores) - result.best_epoch >= 2)
