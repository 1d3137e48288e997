"""Executor-side scoring: blocks of users against a broadcast item-side matrix, top-k per user.

Nothing here gathers users or user-item scores on the driver. Users arrive as one row
each (``user_idx``, their history as ``item_idxs``/``weights`` arrays, the items to
exclude, optionally a per-user vector); ``mapInPandas`` cuts each Arrow batch into
blocks of at most ``block_size`` users, turns a block into a sparse user-item matrix,
asks the model's scoring function for a dense ``(block, n_items)`` score matrix, masks
seen and excluded items and keeps the top ``k`` per row (``torch.topk``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, LongType, StructField, StructType

from shoprec import schemas as S

# The schema module names similar items by id; models work on dense indices.
SIMILAR_ITEM_IDX = "similar_item_idx"
ITEM_IDXS = "item_idxs"  # a user's history: item indices, ascending
WEIGHTS = "weights"  # the weights matching ITEM_IDXS
EXCLUDE_IDXS = "exclude_idxs"  # items never to recommend to this user
FEATURES = "features"  # an optional per-user vector (e.g. ALS user factors)

DEFAULT_BLOCK_SIZE = 1024
# At most this many scores (float32) in one block: 2**25 cells = 128 MiB per block.
DEFAULT_MAX_BLOCK_CELLS = 1 << 25

RECS_SCHEMA = StructType(
    [
        StructField(S.USER_IDX, LongType(), False),
        StructField(S.ITEM_IDX, LongType(), False),
        StructField(S.SCORE, DoubleType(), False),
        StructField(S.RANK, IntegerType(), False),
    ]
)
SIMILAR_SCHEMA = StructType(
    [
        StructField(S.ITEM_IDX, LongType(), False),
        StructField(SIMILAR_ITEM_IDX, LongType(), False),
        StructField(S.SCORE, DoubleType(), False),
        StructField(S.RANK, IntegerType(), False),
    ]
)


@dataclass(frozen=True)
class UserBlock:
    """One block of users as the scoring function sees it."""

    user_idx: np.ndarray  # (b,) int64
    history: sp.csr_matrix  # (b, n_items) weights (float32) of the items each user has
    features: np.ndarray | None  # (b, f) float32 per-user vectors, when the input has them


class Shipped(Protocol):
    """What carries a model's item side to the executors: a Spark ``Broadcast``, or a
    :class:`~shoprec.models.shared.SharedArray` for one large array."""

    @property
    def value(self) -> Any: ...

    def unpersist(self) -> None: ...


# (block, broadcast value) -> (b, n_items) scores; -inf or NaN means "never recommend".
ScoreFn = Callable[[UserBlock, Any], np.ndarray]
# (item indices (b,), broadcast value) -> (b, n_items) similarity of each to every item.
SimilarityFn = Callable[[np.ndarray, Any], np.ndarray]


def collect_pandas(df: DataFrame) -> pd.DataFrame:
    """``df.toPandas()`` (Arrow), typed for callers; only for driver-sized results."""
    out: pd.DataFrame = df.toPandas()
    return out


def block_rows(
    block_size: int, n_items: int, max_block_cells: int = DEFAULT_MAX_BLOCK_CELLS
) -> int:
    """Users per block: ``block_size``, fewer when a block would exceed ``max_block_cells``."""
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    return max(1, min(block_size, max_block_cells // max(n_items, 1)))


def user_histories(train: DataFrame) -> DataFrame:
    """One row per user: ``user_idx``, ``item_idxs`` (ascending) and matching ``weights``."""
    pairs = F.sort_array(
        F.collect_list(
            F.struct(
                F.col(S.ITEM_IDX).cast("long").alias("i"),
                F.col(S.WEIGHT).cast("double").alias("w"),
            )
        )
    )
    return (
        train.groupBy(F.col(S.USER_IDX).cast("long").alias(S.USER_IDX))
        .agg(pairs.alias("_h"))
        .select(S.USER_IDX, F.col("_h.i").alias(ITEM_IDXS), F.col("_h.w").alias(WEIGHTS))
    )


def scoring_input(
    users: DataFrame,
    history: DataFrame | None,
    *,
    exclude: DataFrame | None = None,
    user_vectors: DataFrame | None = None,
    require_history: bool = True,
) -> DataFrame:
    """The rows :func:`score_users` reads: one per distinct requested user.

    ``history`` is :func:`user_histories` output; with ``require_history`` users without
    one are dropped (unknown to the model), otherwise they get an empty history.
    ``user_vectors`` (``user_idx``, ``features``) joins innerly: users without a vector
    are dropped. ``exclude`` (``user_idx``, ``item_idx``) becomes ``exclude_idxs``.
    """
    empty_long = F.array().cast("array<long>")
    empty_double = F.array().cast("array<double>")
    out = users.select(F.col(S.USER_IDX).cast("long").alias(S.USER_IDX)).distinct()
    if user_vectors is not None:
        out = out.join(user_vectors.select(S.USER_IDX, FEATURES), S.USER_IDX, "inner")
    if history is not None:
        out = out.join(history, S.USER_IDX, "inner" if require_history else "left")
    else:
        if require_history:
            raise ValueError("require_history needs a history")
        out = out.select("*", empty_long.alias(ITEM_IDXS), empty_double.alias(WEIGHTS))
    if exclude is not None:
        ex = exclude.groupBy(F.col(S.USER_IDX).cast("long").alias(S.USER_IDX)).agg(
            F.collect_set(F.col(S.ITEM_IDX).cast("long")).alias(EXCLUDE_IDXS)
        )
        out = out.join(ex, S.USER_IDX, "left")
    else:
        out = out.select("*", empty_long.alias(EXCLUDE_IDXS))
    cols = [
        F.col(S.USER_IDX),
        F.coalesce(F.col(ITEM_IDXS), empty_long).alias(ITEM_IDXS),
        F.coalesce(F.col(WEIGHTS), empty_double).alias(WEIGHTS),
        F.coalesce(F.col(EXCLUDE_IDXS), empty_long).alias(EXCLUDE_IDXS),
    ]
    if user_vectors is not None:
        cols.append(F.col(FEATURES))
    return out.select(*cols)


def ragged(cells: np.ndarray, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a column of arrays: (row of each value, values)."""
    lens = np.fromiter((0 if c is None else len(c) for c in cells), np.int64, len(cells))
    if lens.sum() == 0:
        return np.empty(0, np.int64), np.empty(0, dtype)
    values = np.concatenate([np.asarray(c, dtype) for c in cells if c is not None and len(c)])
    return np.repeat(np.arange(len(cells)), lens), values


def to_user_block(part: pd.DataFrame, n_items: int, dtype: type = np.float32) -> UserBlock:
    """Turn rows of :func:`scoring_input` into a :class:`UserBlock` (out-of-range items dropped)."""
    rows, items = ragged(part[ITEM_IDXS].to_numpy(), np.int64)
    _, weights = ragged(part[WEIGHTS].to_numpy(), dtype)
    ok = (items >= 0) & (items < n_items)
    history = sp.csr_matrix(
        (weights[ok], (rows[ok], items[ok])), shape=(len(part), n_items), dtype=dtype
    )
    features = None
    if FEATURES in part.columns:
        features = np.stack([np.asarray(f, np.float32) for f in part[FEATURES].to_numpy()])
    return UserBlock(part[S.USER_IDX].to_numpy(np.int64), history, features)


def topk_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Top ``k`` finite scores of each row: (row, column, score, rank from 1), best first.

    Selection is ``torch.topk`` of ``k + 1`` per row (a partial selection on every
    core; numpy's ``argpartition`` over the whole row cost 3-4x the matrix product that
    made the scores). Ties are broken by the lower column, also at the k-th place, so
    the result depends on nothing but the row: a row whose k-th and (k+1)-th scores are
    equal is the only one that can hold a tie across the cut, and only such rows are
    re-selected exactly. ``-inf`` is never returned; pass no NaN.
    """
    n_rows, n_cols = scores.shape
    kk = min(k, n_cols)
    if kk <= 0 or n_rows == 0:
        e = np.empty(0, np.int64)
        return e, e, np.empty(0, np.float64), np.empty(0, np.int32)
    if kk < n_cols:
        import torch  # imported here: scoring runs in executors that may never need it

        top = torch.topk(torch.from_numpy(np.ascontiguousarray(scores)), kk + 1, dim=1)
        top_vals, cand = top.values.numpy(), top.indices.numpy()[:, :kk].copy()
        thr = top_vals[:, kk - 1]
        straddle = (top_vals[:, kk] == thr) & np.isfinite(thr)
        for r in np.flatnonzero(straddle):  # keep the lowest columns among the tied
            above = np.flatnonzero(scores[r] > thr[r])
            tied = np.flatnonzero(scores[r] == thr[r])[: kk - len(above)]
            cand[r] = np.concatenate([above, tied])
    else:
        cand = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    vals = np.take_along_axis(scores, cand, axis=1).astype(np.float64)
    order = np.lexsort((cand, -vals), axis=-1)
    cand = np.take_along_axis(cand, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    ranks = np.broadcast_to(np.arange(1, kk + 1, dtype=np.int32), (n_rows, kk))
    keep = np.isfinite(vals)
    rows = np.broadcast_to(np.arange(n_rows)[:, None], (n_rows, kk))
    return rows[keep], cand[keep].astype(np.int64), vals[keep], ranks[keep]


def topk_frame(
    ids: np.ndarray, scores: np.ndarray, k: int, *, id_col: str, item_col: str
) -> pd.DataFrame:
    """Top ``k`` per row of ``scores`` as a long pandas frame (id, item, score, rank)."""
    rows, cols, vals, ranks = topk_rows(scores, k)
    return pd.DataFrame(
        {id_col: ids[rows].astype(np.int64), item_col: cols, S.SCORE: vals, S.RANK: ranks}
    )


def _mask(scores: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    n_items = scores.shape[1]
    ok = (cols >= 0) & (cols < n_items)
    scores[rows[ok], cols[ok]] = -np.inf


def _writable(scores: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = np.require(np.asarray(scores, dtype=np.float32), requirements=["W", "C"])
    if out.shape != shape:
        raise ValueError(f"scoring function returned shape {out.shape}, expected {shape}")
    out[np.isnan(out)] = -np.inf
    return out


def score_users(
    inputs: DataFrame,
    item_side: Shipped | None,
    score_fn: ScoreFn,
    *,
    n_items: int,
    k: int,
    exclude_seen: bool = True,
    positive_only: bool = False,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_block_cells: int = DEFAULT_MAX_BLOCK_CELLS,
    num_partitions: int | None = None,
) -> DataFrame:
    """Top-``k`` items per user, computed block by block in the executors.

    ``inputs`` comes from :func:`scoring_input`. ``score_fn(block, item_side.value)``
    returns ``(b, n_items)`` scores. Seen items (with ``exclude_seen``), each user's
    ``exclude_idxs`` and, with ``positive_only``, scores <= 0 are never returned.
    Output: ``user_idx, item_idx, score, rank`` with rank 1..k (fewer rows where
    fewer items qualify). ``num_partitions`` spreads the users over that many tasks
    first (adaptive execution would otherwise coalesce the small input rows into few,
    heavily loaded scoring tasks).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    rows_per_block = block_rows(block_size, n_items, max_block_cells)

    def run(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        side = item_side.value if item_side is not None else None
        for batch in batches:
            for start in range(0, len(batch), rows_per_block):
                part = batch.iloc[start : start + rows_per_block]
                block = to_user_block(part, n_items)
                b = len(part)
                scores = _writable(score_fn(block, side), (b, n_items))
                if exclude_seen:
                    h = block.history
                    _mask(scores, np.repeat(np.arange(b), np.diff(h.indptr)), h.indices)
                ex_rows, ex_items = ragged(part[EXCLUDE_IDXS].to_numpy(), np.int64)
                _mask(scores, ex_rows, ex_items)
                if positive_only:
                    scores[~(scores > 0)] = -np.inf
                yield topk_frame(block.user_idx, scores, k, id_col=S.USER_IDX, item_col=S.ITEM_IDX)

    if num_partitions is not None:
        inputs = inputs.repartition(num_partitions, S.USER_IDX)
    return inputs.mapInPandas(run, RECS_SCHEMA)


def similar_from(
    spark: SparkSession,
    item_side: Shipped,
    similarity_fn: SimilarityFn,
    *,
    n_items: int,
    k: int,
    positive_only: bool = True,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_block_cells: int = DEFAULT_MAX_BLOCK_CELLS,
    num_partitions: int | None = None,
) -> DataFrame:
    """Top-``k`` similar items of every item, computed block by block in the executors.

    ``similarity_fn(item_idx, item_side.value)`` returns ``(b, n_items)``; an item is
    never its own neighbour. Output: ``item_idx, similar_item_idx, score, rank``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    rows_per_block = block_rows(block_size, n_items, max_block_cells)

    def run(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        side = item_side.value
        for batch in batches:
            for start in range(0, len(batch), rows_per_block):
                ids = batch[S.ITEM_IDX].to_numpy(np.int64)[start : start + rows_per_block]
                scores = _writable(similarity_fn(ids, side), (len(ids), n_items))
                scores[np.arange(len(ids)), ids] = -np.inf
                if positive_only:
                    scores[~(scores > 0)] = -np.inf
                yield topk_frame(ids, scores, k, id_col=S.ITEM_IDX, item_col=SIMILAR_ITEM_IDX)

    items = spark.range(0, n_items, 1, num_partitions).select(F.col("id").alias(S.ITEM_IDX))
    return items.mapInPandas(run, SIMILAR_SCHEMA)
