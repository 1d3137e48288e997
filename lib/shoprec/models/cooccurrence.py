"""Item-to-item neighbours from co-occurrence (XᵀX), and the ItemKNN recommender.

No item pair travels through Spark: X, the user-item matrix of capped histories, is
collected (its non-zeros only) and broadcast once; each task takes a block of items,
computes their rows of XᵀX as one sparse product, turns them into shrunk cosines and
keeps each row's top-k over its non-zeros only (:func:`item_neighbours`). Only
``n_items * k`` rows leave the executors, and one pass serves every (neighbours,
shrinkage) setting of a grid. X must fit in an executor: about 16 bytes per non-zero
(X and its transpose, float32 with int32 indices). EASE builds its dense Gram from
the same X (:mod:`shoprec.models.ease`).

Each user's history is capped at its ``max_user_items`` heaviest items, bounding
the quadratic cost of heavy users (bots, resellers).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, LongType, StructField, StructType

from shoprec import schemas as S
from shoprec.models import scoring
from shoprec.models.base import PathLike, Recommender, check_train, load_array
from shoprec.models.scoring import ITEM_IDXS, SIMILAR_ITEM_IDX, WEIGHTS


def capped_histories(train: DataFrame, *, binary: bool, max_user_items: int | None) -> DataFrame:
    """Histories as in :func:`scoring.user_histories`, cut to each user's heaviest items.

    The cut ranks by the original weight (ties: lowest item); ``binary`` then sets
    every kept weight to 1.
    """
    value = F.lit(1.0) if binary else F.col(S.WEIGHT).cast("double")
    if max_user_items is None:
        return scoring.user_histories(train.select(S.USER_IDX, S.ITEM_IDX, value.alias(S.WEIGHT)))
    if max_user_items < 1:
        raise ValueError(f"max_user_items must be >= 1 or None, got {max_user_items}")
    heaviest_first = F.sort_array(
        F.collect_list(
            F.struct(
                (-F.col(S.WEIGHT).cast("double")).alias("nw"),
                F.col(S.ITEM_IDX).cast("long").alias("i"),
                value.alias("w"),
            )
        )
    )
    kept = F.array_sort(
        F.transform(
            F.slice(heaviest_first, 1, max_user_items),
            lambda x: F.struct(x["i"].alias("i"), x["w"].alias("w")),
        )
    )
    return (
        train.groupBy(F.col(S.USER_IDX).cast("long").alias(S.USER_IDX))
        .agg(kept.alias("_h"))
        .select(
            S.USER_IDX,
            F.col("_h").getField("i").alias(ITEM_IDXS),
            F.col("_h").getField("w").alias(WEIGHTS),
        )
    )


SETTING = "setting"
NEIGHBOURS_SCHEMA = StructType(
    [
        StructField(SETTING, IntegerType(), False),
        StructField(S.ITEM_IDX, LongType(), False),
        StructField(SIMILAR_ITEM_IDX, LongType(), False),
        StructField(S.SCORE, DoubleType(), False),
    ]
)
# Items per task x n_items bounds one block's rows of XᵀX (sparse; this many cells
# if every item co-occurred with every other): 2**24 cells, at most ~200 MB.
DEFAULT_BLOCK_CELLS = 1 << 24


def item_blocks(n_items: int, block_cells: int) -> list[tuple[int, int]]:
    """[start, stop) runs of items whose rows of XᵀX hold at most ``block_cells`` cells."""
    per_block = max(1, block_cells // max(n_items, 1))
    return [(a, min(n_items, a + per_block)) for a in range(0, n_items, per_block)]


def history_matrix(histories: DataFrame, n_items: int) -> sp.csr_matrix:
    """:func:`capped_histories` rows collected as X, a float32 CSR (users x items).

    Row order is arbitrary (the rows of XᵀX do not depend on it).
    """
    pdf = scoring.collect_pandas(histories.select(S.USER_IDX, ITEM_IDXS, WEIGHTS))
    return scoring.to_user_block(pdf, n_items, np.float32).history


def top_per_row(m: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` largest positive entries of each row of ``m``, over its non-zeros only.

    Returns (row, column, value) in row order. Ties at the cut keep the lower
    columns, so the result depends on nothing but the row.
    """
    m = m.tocsr()
    if not m.has_sorted_indices:
        m = m.sorted_indices()
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    pos = m.data > 0
    rows, cols, vals = rows[pos], m.indices[pos].astype(np.int64), m.data[pos]
    counts = np.bincount(rows, minlength=m.shape[0])
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    keep = np.ones(len(vals), bool)
    for r in np.flatnonzero(counts > k):  # only long rows need a selection
        a, b = starts[r], starts[r] + counts[r]
        v = vals[a:b]
        thr = np.partition(v, len(v) - k)[len(v) - k]
        above = v > thr
        tied = np.flatnonzero(v == thr)[: k - int(above.sum())]  # columns ascending
        above[tied] = True
        keep[a:b] = above
    return rows[keep], cols[keep], vals[keep]


def item_neighbours(
    train: DataFrame,
    *,
    n_items: int,
    settings: Sequence[tuple[int, float]],
    binary: bool = True,
    max_user_items: int | None = 500,
    block_cells: int = DEFAULT_BLOCK_CELLS,
) -> pd.DataFrame:
    """Each item's top-``k`` other items by shrunk cosine, for every ``(k, shrinkage)``.

    ``sim(i, j) = XᵀX[i, j] / (|x_i| |x_j| + shrinkage)`` with X the user-item matrix
    of ``train`` (binarised with ``binary``, capped at ``max_user_items`` per user).
    Returns a pandas frame (collected: at most ``k`` rows per item and setting) of
    ``setting`` (the index in ``settings``), ``item_idx``, ``similar_item_idx`` and
    ``score`` (> 0); X's broadcast is released before it returns.
    """
    if not settings:
        raise ValueError("item_neighbours: no settings")
    histories = capped_histories(train, binary=binary, max_user_items=max_user_items)
    x = history_matrix(histories, n_items)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0), np.float64).ravel())
    spark = histories.sparkSession
    side = spark.sparkContext.broadcast((x, x.T.tocsr(), norms))
    blocks = item_blocks(n_items, block_cells)
    wanted = [(int(k), float(shrink)) for k, shrink in settings]

    def run(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        x, xt, norms = side.value
        for batch in batches:
            for block in batch["id"].to_numpy():
                start, stop = blocks[int(block)]
                gram = (xt[start:stop] @ x).tocsr().sorted_indices()  # their rows of XᵀX
                rows = np.repeat(np.arange(start, stop), np.diff(gram.indptr))
                gram.data[gram.indices == rows] = 0.0  # an item is not its own neighbour
                denominator = norms[rows] * norms[gram.indices]
                co = gram.data.astype(np.float64)
                for setting, (k, shrink) in enumerate(wanted):
                    gram.data = co / (denominator + shrink)
                    r, c, v = top_per_row(gram, k)
                    yield pd.DataFrame(
                        {
                            SETTING: np.full(len(r), setting, np.int32),
                            S.ITEM_IDX: r + start,
                            SIMILAR_ITEM_IDX: c,
                            S.SCORE: v,
                        }
                    )

    tasks = min(len(blocks), 4 * spark.sparkContext.defaultParallelism)
    try:
        return scoring.collect_pandas(
            spark.range(len(blocks), numPartitions=tasks).mapInPandas(run, NEIGHBOURS_SCHEMA)
        )
    finally:
        side.unpersist()  # X leaves the executors as soon as the neighbours are in


def neighbour_matrix(pdf: pd.DataFrame, n_items: int) -> sp.csr_matrix:
    """Rows of :func:`item_neighbours` (one setting) as a float32 item x item CSR."""
    return sp.csr_matrix(
        (
            pdf[S.SCORE].to_numpy(np.float32),
            (pdf[S.ITEM_IDX].to_numpy(np.int64), pdf[SIMILAR_ITEM_IDX].to_numpy(np.int64)),
        ),
        shape=(n_items, n_items),
        dtype=np.float32,
    )


def _knn_scores(block: scoring.UserBlock, sim: sp.csr_matrix) -> np.ndarray:
    return np.asarray((block.history @ sim).toarray())


def _knn_rows(ids: np.ndarray, sim: sp.csr_matrix) -> np.ndarray:
    return np.asarray(sim[ids].toarray())


class ItemKNN(Recommender):
    """Item-based k-nearest neighbours on shrunk cosine similarity of co-occurrence.

    ``sim(i, j) = XᵀX[i, j] / (|x_i| |x_j| + shrinkage)``; each item keeps its
    ``neighbours`` most similar items (a sparse matrix of at most
    ``n_items * neighbours`` entries, collected and broadcast). A user's score for j
    is the sum over its items i of ``weight(u, i) * sim(i, j)``; only items reachable
    from the history (score > 0) are recommended.
    """

    name = "itemknn"
    shares_fit = True

    def __init__(
        self,
        neighbours: int = 50,
        shrinkage: float = 10.0,
        *,
        binary: bool = True,
        max_user_items: int | None = 500,
        block_size: int = scoring.DEFAULT_BLOCK_SIZE,
        partitions: int | None = None,
        block_cells: int = DEFAULT_BLOCK_CELLS,
    ) -> None:
        super().__init__(block_size=block_size, partitions=partitions)
        if neighbours < 1:
            raise ValueError(f"neighbours must be >= 1, got {neighbours}")
        if shrinkage < 0:
            raise ValueError(f"shrinkage must be >= 0, got {shrinkage}")
        self.neighbours = neighbours
        self.shrinkage = shrinkage
        self.binary = binary
        self.max_user_items = max_user_items
        self.block_cells = block_cells
        self.similarity: sp.csr_matrix | None = None

    def fit(self, train: DataFrame, *, n_items: int) -> Self:
        """Find each item's neighbours in the executors and collect them as a sparse matrix."""
        self.fit_all([self], train, n_items=n_items)
        return self

    @classmethod
    def fit_all(cls, models: Sequence[Recommender], train: DataFrame, *, n_items: int) -> None:
        """Fit several settings in one pass over ``train`` per (binary, max_user_items).

        The rows of XᵀX are computed once and give every setting's neighbours.
        """
        knns = [m for m in models if isinstance(m, ItemKNN)]
        if len(knns) != len(models):
            raise TypeError("ItemKNN.fit_all fits ItemKNN models only")
        check_train(train, n_items)  # once for all settings
        for m in knns:
            m._start_fit(train, n_items, checked=True)
        groups: dict[tuple[bool, int | None, int], list[ItemKNN]] = {}
        for m in knns:
            groups.setdefault((m.binary, m.max_user_items, m.block_cells), []).append(m)
        for (binary, cap, cells), group in groups.items():
            rows = item_neighbours(
                train,
                n_items=n_items,
                settings=[(m.neighbours, m.shrinkage) for m in group],
                binary=binary,
                max_user_items=cap,
                block_cells=cells,
            )
            by_setting = dict(tuple(rows.groupby(SETTING)))
            empty = rows.iloc[:0]
            for i, m in enumerate(group):
                m.similarity = neighbour_matrix(by_setting.get(i, empty), n_items)

    def _item_side(self) -> Any:
        assert self.similarity is not None
        return self.similarity

    def recommend(
        self,
        users: DataFrame,
        k: int,
        *,
        exclude: DataFrame | None = None,
        exclude_seen: bool = True,
    ) -> DataFrame:
        """Items most similar to the user's history (only users with a training history)."""
        return self._recommend(
            users, k, _knn_scores, exclude=exclude, exclude_seen=exclude_seen, positive_only=True
        )

    def similar_items(self, k: int) -> DataFrame:
        """Each item's top-``k`` neighbours (at most ``neighbours``) by shrunk cosine."""
        return self._similar(k, _knn_rows)

    def params(self) -> dict[str, Any]:
        """Model name and hyperparameters."""
        return {
            "model": self.name,
            "neighbours": self.neighbours,
            "shrinkage": self.shrinkage,
            "binary": self.binary,
            "max_user_items": self.max_user_items,
        }

    def save(self, path: PathLike) -> None:
        """Write the neighbour matrix (CSR arrays), meta.json and the histories."""
        sim = self.similarity
        assert sim is not None, "not fitted"
        self._save_common(
            path, {"sim_data": sim.data, "sim_indices": sim.indices, "sim_indptr": sim.indptr}
        )

    @classmethod
    def load(cls, path: PathLike) -> Self:
        """Read a saved :class:`ItemKNN`."""
        folder, meta = cls._read_meta(path)
        p = meta["params"]
        model = cls(
            p["neighbours"],
            p["shrinkage"],
            binary=p["binary"],
            max_user_items=p["max_user_items"],
        )
        model._load_common(folder, meta)
        n = model.n_items
        model.similarity = sp.csr_matrix(
            (
                load_array(folder, "sim_data"),
                load_array(folder, "sim_indices"),
                load_array(folder, "sim_indptr"),
            ),
            shape=(n, n),
        )
        return model
