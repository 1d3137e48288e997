"""Feeding training examples to PyTorch: Petastorm shards for Horovod, arrays in process.

Examples are a Spark DataFrame of fixed-width columns (longs, floats and fixed-length
arrays of them). For distributed training, :func:`make_converter` materialises it once
as Parquet under a cache folder (Petastorm's Spark converter) and every Horovod rank
opens :func:`shard_loader` on its own shard: Petastorm assigns whole row groups to
shards (``index % shard_count``), so ranks read disjoint rows and no rank reads the
whole data set. The single-process path (:func:`local_arrays`, :func:`local_batches`)
collects the examples to the driver instead; it is meant for small data.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pyspark.sql import DataFrame

from shoprec.lake import is_local, local_path
from shoprec.models.scoring import collect_pandas

CACHE_CONF = "petastorm.spark.converter.parentCacheDirUrl"

Batch = dict[str, torch.Tensor]


def file_url(path: str | Path) -> str:
    """``path`` as the ``file://`` URL Petastorm wants (URLs are returned unchanged)."""
    text = str(path)
    return Path(local_path(text)).as_uri() if is_local(text) else text


def make_converter(examples: DataFrame, *, cache_dir: str | Path, shards: int) -> Any:
    """Materialise ``examples`` for Petastorm under ``cache_dir``; return the converter.

    The rows are spread over ``2 * shards`` files first: Petastorm shards by row group
    and refuses more shards than row groups, and several groups per shard keep the
    shards close in size. Doubles become float32 (the converter's ``dtype``).
    """
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pyarrow.LocalFileSystem notice
        from petastorm.spark import make_spark_converter

    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    examples.sparkSession.conf.set(CACHE_CONF, file_url(cache_dir))
    converter = make_spark_converter(examples.repartition(2 * shards))
    groups = len(converter.file_urls)
    if groups < shards:
        converter.delete()
        raise ValueError(
            f"{converter.dataset_size} training examples fill {groups} Parquet files, fewer "
            f"than the {shards} Horovod workers; use fewer workers for data this small"
        )
    return converter


def shard_loader(
    converter: Any,
    *,
    batch_size: int,
    cur_shard: int,
    shard_count: int,
    seed: int,
    num_epochs: int | None = None,
) -> Any:
    """A context manager yielding a DataLoader over shard ``cur_shard``, endless by default.

    Endless (``num_epochs=None``) for training because Horovod ranks must take the same number of
    steps: the caller decides where an epoch ends (:func:`steps_per_epoch`) and shards
    of slightly different sizes simply wrap around. Row groups and rows are shuffled
    with ``seed``; one reader thread keeps the order reproducible.
    """
    return converter.make_torch_dataloader(
        batch_size=batch_size,
        num_epochs=num_epochs,
        workers_count=1,
        cur_shard=cur_shard,
        shard_count=shard_count,
        shard_seed=seed,
        seed=seed,
        shuffle_rows=True,
        shuffle_row_groups=True,
    )


def steps_per_epoch(n_examples: int, *, batch_size: int, workers: int) -> int:
    """Steps each of ``workers`` ranks takes so that together they see every example once."""
    return max(1, math.ceil(n_examples / (batch_size * max(workers, 1))))


def local_arrays(examples: DataFrame) -> dict[str, np.ndarray]:
    """Collect ``examples`` to the driver as one array per column (array columns stacked).

    Rows come back in one canonical order (sorted by their values), not in the order
    Spark's partitions happened to hold them, so that a seeded training run gives the
    same network however the input was partitioned.
    """
    pdf = collect_pandas(examples)
    out: dict[str, np.ndarray] = {}
    for col in pdf.columns:
        values = pdf[col].to_numpy()
        if len(values) and isinstance(values[0], list | np.ndarray):
            values = np.stack([np.asarray(v) for v in values])
        if values.dtype == np.float64:
            values = values.astype(np.float32)
        out[col] = values
    return {col: values[_canonical_order(out)] for col, values in out.items()}


def _canonical_order(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The row order that sorts ``arrays`` by every column (array columns by each entry)."""
    n = len(next(iter(arrays.values()), ()))
    if n == 0:
        return np.arange(0)
    keys = [v.reshape(n, -1).T for v in arrays.values()]
    # np.lexsort sorts by its last key first: reverse so that the first column leads.
    return np.lexsort(np.vstack(keys)[::-1])


def local_batches(
    arrays: dict[str, np.ndarray], *, batch_size: int, seed: int, epoch: int
) -> Iterator[Batch]:
    """One epoch of shuffled batches over ``arrays`` (the order depends on seed and epoch)."""
    n = len(next(iter(arrays.values())))
    order = np.random.default_rng([seed, epoch]).permutation(n)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    for start in range(0, n, batch_size):
        idx = torch.from_numpy(order[start : start + batch_size])
        yield {k: t[idx] for k, t in tensors.items()}
