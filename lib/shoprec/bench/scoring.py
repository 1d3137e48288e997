"""Scoring throughput: the executor-side block scorer against a bare numpy matrix product.

    python -m shoprec.bench.scoring --users 100000 --items 20000 --rank 64 --k 100 [--json out.json]

Random float32 user and item factors (seeded) and a few random history items per user
stand in for a fitted factor model; ALS is not trained, because what is measured is the
scoring, not the fit. The inputs are built exactly as :class:`~shoprec.models.als.ALSRecommender`
builds them from a fitted model (user vectors as a ``user_idx, features`` DataFrame,
histories as :func:`~shoprec.models.scoring.user_histories` rows, item factors broadcast
as a :class:`~shoprec.models.als.FactorSide`) and go through the same calls its
``recommend`` makes: :func:`~shoprec.models.scoring.scoring_input`, then
:func:`~shoprec.models.scoring.score_users` with the ALS score function (block ``U_b Yᵀ``
in ``mapInPandas``, seen items masked, top ``k`` by ``torch.topk``, rows out).

* baseline: ``U_b Yᵀ`` for every block of users in numpy on the driver, no masking and
  no top-k: the arithmetic the scoring cannot avoid.
* shoprec: broadcast, :func:`scoring_input`, :func:`score_users` and a Spark action that
  materializes every recommendation row (a ``noop`` write).

Both are timed after the inputs exist (the Spark inputs cached and counted, the Python
workers started by an untimed warm-up on a few users). ``ratio`` is shoprec's users/s
over the baseline's: the share of the bare matrix product's speed the full path keeps.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    ArrayType,
    DoubleType,
    FloatType,
    LongType,
    StructField,
    StructType,
)

from shoprec import schemas as S
from shoprec.config import Settings
from shoprec.models import scoring
from shoprec.models.als import FactorSide, als_scores
from shoprec.spark import build_spark

WARMUP_USERS = 256

VECTOR_SCHEMA = StructType(
    [
        StructField(S.USER_IDX, LongType(), False),
        StructField(scoring.FEATURES, ArrayType(FloatType(), False), False),
    ]
)
HISTORY_SCHEMA = StructType(
    [
        StructField(S.USER_IDX, LongType(), False),
        StructField(scoring.ITEM_IDXS, ArrayType(LongType(), False), False),
        StructField(scoring.WEIGHTS, ArrayType(DoubleType(), False), False),
    ]
)


@dataclass(frozen=True)
class ScoringData:
    """A synthetic fitted factor model: factors and each user's seen items (CSR layout)."""

    user_factors: np.ndarray  # (n_users, rank) float32
    item_factors: np.ndarray  # (n_items, rank) float32
    history_indptr: np.ndarray  # (n_users + 1,) int64
    history_items: np.ndarray  # (nnz,) int64, ascending and distinct within a user

    @property
    def n_users(self) -> int:
        """Number of users."""
        return int(self.user_factors.shape[0])

    @property
    def n_items(self) -> int:
        """Number of items."""
        return int(self.item_factors.shape[0])

    def seen(self, user: int) -> np.ndarray:
        """The items ``user`` has in its history."""
        return self.history_items[self.history_indptr[user] : self.history_indptr[user + 1]]


def make_data(
    n_users: int, n_items: int, rank: int, *, history: int = 5, seed: int = 0
) -> ScoringData:
    """Seeded random factors; each user gets 1..2*history-1 random items (mean ``history``)."""
    if min(n_users, n_items, rank, history) < 1:
        raise ValueError("users, items, rank and history must be >= 1")
    rng = np.random.default_rng(seed)
    users = (rng.standard_normal((n_users, rank), dtype=np.float32) * 0.1).astype(np.float32)
    items = (rng.standard_normal((n_items, rank), dtype=np.float32) * 0.1).astype(np.float32)
    counts = rng.integers(1, 2 * history, n_users)
    rows = np.repeat(np.arange(n_users, dtype=np.int64), counts)
    cols = rng.integers(0, n_items, len(rows), dtype=np.int64)
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    keep = np.ones(len(rows), bool)
    keep[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    rows, cols = rows[keep], cols[keep]
    indptr = np.zeros(n_users + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n_users), out=indptr[1:])
    return ScoringData(users, items, indptr, cols)


def spark_inputs(spark: SparkSession, data: ScoringData) -> tuple[DataFrame, DataFrame]:
    """``(user vectors, histories)`` as ALSRecommender holds them, cached and counted."""
    ids = np.arange(data.n_users, dtype=np.int64)
    vectors = spark.createDataFrame(
        pd.DataFrame({S.USER_IDX: ids, scoring.FEATURES: list(data.user_factors)}),
        VECTOR_SCHEMA,
    )
    items = np.split(data.history_items, data.history_indptr[1:-1])
    history = spark.createDataFrame(
        pd.DataFrame(
            {
                S.USER_IDX: ids,
                scoring.ITEM_IDXS: items,
                scoring.WEIGHTS: [np.ones(len(i), np.float64) for i in items],
            }
        ),
        HISTORY_SCHEMA,
    )
    for df in (vectors, history):
        df.cache().count()
    return vectors, history


def shoprec_recommendations(
    vectors: DataFrame,
    history: DataFrame,
    side: Any,
    *,
    n_items: int,
    k: int,
    partitions: int | None = None,
) -> DataFrame:
    """Top ``k`` per user as ``ALSRecommender.recommend`` computes it (``side``: a broadcast)."""
    inputs = scoring.scoring_input(
        vectors.select(S.USER_IDX), history, user_vectors=vectors, require_history=False
    )
    return scoring.score_users(
        inputs, side, als_scores, n_items=n_items, k=k, num_partitions=partitions
    )


def time_baseline(data: ScoringData, block: int) -> float:
    """Seconds for ``U Yᵀ`` in blocks of ``block`` users on the driver (no top-k)."""
    yt = data.item_factors.T
    out = np.empty((block, data.n_items), np.float32)
    start = time.perf_counter()
    for s in range(0, data.n_users, block):
        u = data.user_factors[s : s + block]
        np.matmul(u, yt, out=out[: len(u)])
    return time.perf_counter() - start


def time_shoprec(
    spark: SparkSession,
    data: ScoringData,
    vectors: DataFrame,
    history: DataFrame,
    *,
    k: int,
    partitions: int | None,
) -> float:
    """Seconds to broadcast the item factors and write every user's top ``k`` to a noop sink."""
    start = time.perf_counter()
    side = spark.sparkContext.broadcast(FactorSide(data.item_factors, np.ones(data.n_items, bool)))
    try:
        recs = shoprec_recommendations(
            vectors, history, side, n_items=data.n_items, k=k, partitions=partitions
        )
        recs.write.format("noop").mode("overwrite").save()
        return time.perf_counter() - start
    finally:
        side.destroy()


def run_benchmark(
    spark: SparkSession,
    data: ScoringData,
    *,
    k: int,
    partitions: int | None = None,
    block_size: int = scoring.DEFAULT_BLOCK_SIZE,
) -> dict[str, Any]:
    """Time both paths on ``data``; users/s of each and shoprec's over the baseline's."""
    block = scoring.block_rows(block_size, data.n_items)
    vectors, history = spark_inputs(spark, data)
    try:
        warm = vectors.limit(WARMUP_USERS)
        time_shoprec(spark, data, warm, history, k=k, partitions=partitions)
        shoprec_s = time_shoprec(spark, data, vectors, history, k=k, partitions=partitions)
    finally:
        vectors.unpersist()
        history.unpersist()
    baseline_s = time_baseline(data, block)
    base_ups = data.n_users / baseline_s
    shop_ups = data.n_users / shoprec_s
    return {
        "users": data.n_users,
        "items": data.n_items,
        "rank": int(data.user_factors.shape[1]),
        "k": k,
        "history_items": len(data.history_items),
        "block_users": block,
        "partitions": partitions,
        "baseline_s": round(baseline_s, 3),
        "shoprec_s": round(shoprec_s, 3),
        "baseline_users_per_s": round(base_ups, 1),
        "shoprec_users_per_s": round(shop_ups, 1),
        "ratio": round(shop_ups / base_ups, 4),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: build the data, run both paths once, print (and optionally save) results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--history", type=int, default=5, help="mean seen items per user")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--partitions", type=int, help="scoring tasks (default: as the input comes, like ALS)"
    )
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    data = make_data(args.users, args.items, args.rank, history=args.history, seed=args.seed)
    spark = build_spark(Settings().spark)
    r = run_benchmark(spark, data, k=args.k, partitions=args.partitions)
    print(
        f"{r['users']:,} users x {r['items']:,} items, rank {r['rank']}, k {r['k']}, "
        f"{r['history_items']:,} seen items masked, blocks of {r['block_users']} users\n"
        f"baseline (numpy U_b Y^T on the driver): {r['baseline_s']:>8.2f} s "
        f"{r['baseline_users_per_s']:>12,.0f} users/s\n"
        f"shoprec  (score_users, rows out):       {r['shoprec_s']:>8.2f} s "
        f"{r['shoprec_users_per_s']:>12,.0f} users/s\n"
        f"ratio shoprec / baseline (users/s): {r['ratio']:.3f}",
        flush=True,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
