"""Item-item co-occurrence (the Gram matrix XᵀX) in Spark, and the ItemKNN recommender.

How XᵀX is computed: users are grouped into history arrays, and each executor turns
a run of users into a sparse user-item block X_b and computes X_bᵀX_b with scipy
(C speed, no per-pair JVM rows); only the upper triangle's non-zeros leave the task,
and Spark sums them by item pair. That is the self-join on user done as blocked
sparse products: the shuffle carries at most one entry per item pair per block,
rather than one row per user per pair. A block holds users up to ``block_pairs``
summed squared history lengths, and each user's history is capped at its
``max_user_items`` heaviest items, bounding the quadratic cost of heavy users (bots,
resellers) on both the executors and the shuffle.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, LongType, StructField, StructType

from shoprec import schemas as S
from shoprec.models import scoring
from shoprec.models.base import PathLike, Recommender, load_array
from shoprec.models.scoring import ITEM_IDXS, SIMILAR_ITEM_IDX, WEIGHTS

COOCCURRENCE = "cooccurrence"
DEFAULT_BLOCK_PAIRS = 1 << 22
COOCCURRENCE_SCHEMA = StructType(
    [
        StructField(S.ITEM_IDX, LongType(), False),
        StructField(SIMILAR_ITEM_IDX, LongType(), False),
        StructField(COOCCURRENCE, DoubleType(), False),
    ]
)


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


def _pair_blocks(lengths: np.ndarray, block_pairs: int) -> list[tuple[int, int]]:
    """Cut consecutive users into [start, stop) runs of about ``block_pairs`` squared lengths."""
    if len(lengths) == 0:
        return []
    pairs = lengths.astype(np.int64) ** 2
    block = (np.cumsum(pairs) - pairs) // max(block_pairs, 1)
    cuts = np.r_[0, np.flatnonzero(np.diff(block)) + 1, len(lengths)]
    return [(int(a), int(b)) for a, b in itertools.pairwise(cuts)]


def cooccurrence(
    train: DataFrame,
    *,
    n_items: int,
    binary: bool = True,
    max_user_items: int | None = 500,
    block_pairs: int = DEFAULT_BLOCK_PAIRS,
) -> DataFrame:
    """Upper triangle (``item_idx <= similar_item_idx``) of XᵀX as ``cooccurrence`` sums.

    X is the user-item matrix of ``train`` (binarised with ``binary``). The diagonal
    holds each item's squared norm (its user count when binary).
    """
    histories = capped_histories(train, binary=binary, max_user_items=max_user_items)

    def run(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            lengths = batch[ITEM_IDXS].map(len).to_numpy(np.int64)
            for start, stop in _pair_blocks(lengths, block_pairs):
                x = scoring.to_user_block(batch.iloc[start:stop], n_items, np.float64).history
                gram = sp.triu((x.T @ x).tocoo(), format="coo")
                yield pd.DataFrame(
                    {
                        S.ITEM_IDX: gram.row.astype(np.int64),
                        SIMILAR_ITEM_IDX: gram.col.astype(np.int64),
                        COOCCURRENCE: gram.data.astype(np.float64),
                    }
                )

    return (
        histories.mapInPandas(run, COOCCURRENCE_SCHEMA)
        .groupBy(S.ITEM_IDX, SIMILAR_ITEM_IDX)
        .agg(F.sum(COOCCURRENCE).alias(COOCCURRENCE))
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

    def __init__(
        self,
        neighbours: int = 50,
        shrinkage: float = 10.0,
        *,
        binary: bool = True,
        max_user_items: int | None = 500,
        block_size: int = scoring.DEFAULT_BLOCK_SIZE,
        partitions: int | None = None,
        block_pairs: int = DEFAULT_BLOCK_PAIRS,
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
        self.block_pairs = block_pairs
        self.similarity: sp.csr_matrix | None = None

    def fit(self, train: DataFrame, *, n_items: int) -> Self:
        """Compute neighbours in Spark and collect them as a sparse matrix."""
        self._start_fit(train, n_items)
        co = cooccurrence(
            train,
            n_items=n_items,
            binary=self.binary,
            max_user_items=self.max_user_items,
            block_pairs=self.block_pairs,
        ).persist()
        try:
            i, j = F.col(S.ITEM_IDX), F.col(SIMILAR_ITEM_IDX)
            norms = co.where(i == j).select(i, F.sqrt(COOCCURRENCE).alias("_n"))
            off = (
                co.where(i < j)
                .alias("c")
                .join(norms.alias("a"), F.col("c." + S.ITEM_IDX) == F.col("a." + S.ITEM_IDX))
                .join(norms.alias("b"), F.col("c." + SIMILAR_ITEM_IDX) == F.col("b." + S.ITEM_IDX))
                .select(
                    F.col("c." + S.ITEM_IDX).alias(S.ITEM_IDX),
                    F.col("c." + SIMILAR_ITEM_IDX).alias(SIMILAR_ITEM_IDX),
                    (
                        F.col("c." + COOCCURRENCE)
                        / (F.col("a._n") * F.col("b._n") + F.lit(float(self.shrinkage)))
                    ).alias(S.SCORE),
                )
            )
            both = off.unionByName(
                off.select(j.alias(S.ITEM_IDX), i.alias(SIMILAR_ITEM_IDX), F.col(S.SCORE))
            ).where(F.col(S.SCORE) > 0)
            order = Window.partitionBy(S.ITEM_IDX).orderBy(F.desc(S.SCORE), F.asc(SIMILAR_ITEM_IDX))
            pdf = scoring.collect_pandas(
                both.withColumn("_r", F.row_number().over(order))
                .where(F.col("_r") <= self.neighbours)
                .select(S.ITEM_IDX, SIMILAR_ITEM_IDX, S.SCORE)
            )
        finally:
            co.unpersist()
        self.similarity = sp.csr_matrix(
            (
                pdf[S.SCORE].to_numpy(np.float32),
                (pdf[S.ITEM_IDX].to_numpy(np.int64), pdf[SIMILAR_ITEM_IDX].to_numpy(np.int64)),
            ),
            shape=(n_items, n_items),
            dtype=np.float32,
        )
        return self

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
