"""Training throughput: the plain PyTorch loop against 1 and 2 Horovod workers on Spark.

    python -m shoprec.bench.training --users 2000 --items 500 --per-user 20 [--model twotower]
        [--epochs 3] [--workers 1,2] [--json out.json]

A seeded synthetic shop (users in taste groups, Zipf-popular items within a group) is
turned into one model's training examples by the model itself
(:meth:`~shoprec.models.neural.NeuralRecommender.prepare_training`), cached and
counted, so building them is not timed. The same examples and network are then
trained by :func:`shoprec.training.train`:

* ``plain``: one process on the driver (``workers=0``); the examples are collected to
  the driver and fed from memory.
* ``horovod-N``: ``horovod.spark.run`` with N ranks on the Spark executors
  (``backend="horovod"``, so N = 1 is Horovod too), each reading its Petastorm shard.

Two throughputs are reported per run: ``loop`` is examples per second inside the
training loop (what more ranks speed up), ``wall`` is examples over the whole call,
including collecting or materialising the examples and starting the ranks (what a
nightly job pays). Ratios are against ``plain``. Every run uses one torch thread per
process, so N ranks use N cores; on a 2-core machine two ranks share the cores with
Spark and the Petastorm reader threads.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession

from shoprec import schemas as S
from shoprec.config import Settings
from shoprec.models.neural import GRU4Rec, LightGCN, NeuralRecommender, SASRec, TwoTower
from shoprec.spark import build_spark
from shoprec.training import TrainConfig, train

MODELS: dict[str, type[NeuralRecommender]] = {
    "twotower": TwoTower,
    "gru4rec": GRU4Rec,
    "sasrec": SASRec,
    "lightgcn": LightGCN,
}


def make_interactions(
    spark: SparkSession, *, users: int, items: int, per_user: int, groups: int = 10, seed: int = 0
) -> DataFrame:
    """``user_idx, item_idx, weight`` with ``per_user`` distinct items per user (seeded)."""
    if users < 1 or items < groups or not 1 <= per_user <= items // groups:
        raise ValueError(
            f"need users >= 1, items >= groups ({groups}) and 1 <= per_user <= items/groups: "
            f"{users}, {items}, {per_user}"
        )
    rng = np.random.default_rng(seed)
    size = items // groups
    probs = 1.0 / np.arange(1, size + 1) ** 0.8
    probs /= probs.sum()
    user_col = np.repeat(np.arange(users), per_user)
    item_col = np.concatenate(
        [
            (u % groups) * size + rng.choice(size, per_user, replace=False, p=probs)
            for u in range(users)
        ]
    )
    pdf = pd.DataFrame(
        {
            S.USER_IDX: user_col.astype(np.int64),
            S.ITEM_IDX: item_col.astype(np.int64),
            S.WEIGHT: rng.integers(1, 5, len(user_col)).astype(np.float64),
        }
    )
    return spark.createDataFrame(pdf, f"{S.USER_IDX} long, {S.ITEM_IDX} long, {S.WEIGHT} double")


def run_benchmark(
    spark: SparkSession,
    train_df: DataFrame,
    *,
    n_items: int,
    model: str = "twotower",
    workers: tuple[int, ...] = (1, 2),
    epochs: int = 3,
    batch_size: int = 256,
    dim: int = 32,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the same examples once per setting; throughputs and ratios against ``plain``."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
    began = time.perf_counter()
    recommender = MODELS[model](dim=dim, seed=seed)
    build, examples = recommender.prepare_training(train_df, n_items=n_items)
    examples = examples.cache()
    n_examples = examples.count()
    settings = [("plain", 0, "local")] + [(f"horovod-{n}", n, "horovod") for n in workers]
    runs: list[dict[str, Any]] = []
    try:
        for label, n, backend in settings:
            cfg = TrainConfig(
                epochs=epochs, batch_size=batch_size, seed=seed, workers=n, backend=backend
            )
            start = time.perf_counter()
            result = train(build, examples, cfg, signature=f"bench-{label}")
            wall = time.perf_counter() - start
            runs.append(
                {
                    "setting": label,
                    "ranks": result.ranks,
                    "examples": result.examples,
                    "loop_s": round(result.seconds, 3),
                    "wall_s": round(wall, 3),
                    "loop_examples_per_s": round(result.examples_per_second, 1),
                    "wall_examples_per_s": round(result.examples / wall, 1),
                    "final_loss": round(result.losses[-1], 4),
                }
            )
    finally:
        examples.unpersist()
    base = runs[0]
    for run in runs:
        run["loop_ratio"] = round(run["loop_examples_per_s"] / base["loop_examples_per_s"], 3)
        run["wall_ratio"] = round(run["wall_examples_per_s"] / base["wall_examples_per_s"], 3)
    return {
        "model": model,
        "n_examples": n_examples,
        "n_items": n_items,
        "epochs": epochs,
        "batch_size": batch_size,
        "dim": dim,
        "runs": runs,
        "total_wall_s": round(time.perf_counter() - began, 1),
    }


def format_report(r: dict[str, Any]) -> str:
    """The results as a small fixed-width table."""
    lines = [
        f"{r['model']}: {r['n_examples']:,} examples x {r['epochs']} epochs, {r['n_items']:,} "
        f"items, dim {r['dim']}, batch {r['batch_size']} per rank",
        f"{'setting':<11}{'loop ex/s':>12}{'ratio':>8}{'wall ex/s':>12}{'ratio':>8}"
        f"{'wall s':>9}{'loss':>9}",
    ]
    for run in r["runs"]:
        lines.append(
            f"{run['setting']:<11}{run['loop_examples_per_s']:>12,.0f}{run['loop_ratio']:>8.2f}"
            f"{run['wall_examples_per_s']:>12,.0f}{run['wall_ratio']:>8.2f}"
            f"{run['wall_s']:>9.1f}{run['final_loss']:>9.3f}"
        )
    lines.append(f"total wall time {r['total_wall_s']:.1f} s")
    return "\n".join(lines)


def _workers(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--workers wants integers like 1,2: {text!r}") from exc
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"--workers wants integers >= 1: {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    """Command line: build the data, train once per setting, print (and optionally save)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="twotower")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--per-user", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--workers", type=_workers, default=(1, 2), help="Horovod ranks, e.g. 1,2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    spark = build_spark(Settings().spark)
    try:
        train_df = make_interactions(
            spark, users=args.users, items=args.items, per_user=args.per_user, seed=args.seed
        ).cache()
    except ValueError as exc:
        parser.error(str(exc))
    r = run_benchmark(
        spark,
        train_df,
        n_items=args.items,
        model=args.model,
        workers=args.workers,
        epochs=args.epochs,
        batch_size=args.batch_size,
        dim=args.dim,
        seed=args.seed,
    )
    print(format_report(r), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
