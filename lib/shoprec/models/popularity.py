"""Popularity baselines, also the cold-start fallback: global and per category.

Both recommend to every requested user, known or not (an unknown user simply has no
history to exclude or to take categories from).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.models import scoring
from shoprec.models.base import PathLike, Recommender, active_spark, load_array

PopularityBy = Literal["weight", "users"]


def item_popularity(train: DataFrame, n_items: int, by: PopularityBy) -> np.ndarray:
    """Per-item popularity (total weight, or distinct users) as a dense float64 vector."""
    if by == "weight":
        agg = F.sum(S.WEIGHT)
    elif by == "users":
        agg = F.countDistinct(S.USER_IDX)
    else:
        raise ValueError(f"by must be 'weight' or 'users', got {by!r}")
    pdf = scoring.collect_pandas(train.groupBy(S.ITEM_IDX).agg(agg.cast("double").alias(S.SCORE)))
    pop = np.zeros(n_items, np.float64)
    pop[pdf[S.ITEM_IDX].to_numpy(np.int64)] = pdf[S.SCORE].to_numpy(np.float64)
    return pop


def _top_items_frame(pop: np.ndarray, k: int) -> pd.DataFrame:
    """The ``k`` most popular items with positive popularity (ties by item index)."""
    order = np.lexsort((np.arange(len(pop)), -pop))
    order = order[pop[order] > 0][:k]
    return pd.DataFrame(
        {
            S.ITEM_IDX: order.astype(np.int64),
            S.SCORE: pop[order].astype(np.float64),
            S.RANK: np.arange(1, len(order) + 1, dtype=np.int32),
        }
    )


def _global_scores(block: scoring.UserBlock, pop: np.ndarray) -> np.ndarray:
    return np.broadcast_to(pop.astype(np.float32), (len(block.user_idx), len(pop)))


class Popularity(Recommender):
    """Items ranked by total weight (``by="weight"``) or by distinct users (``by="users"``)."""

    name = "popularity"

    def __init__(
        self,
        by: PopularityBy = "weight",
        *,
        block_size: int = scoring.DEFAULT_BLOCK_SIZE,
        partitions: int | None = None,
    ) -> None:
        super().__init__(block_size=block_size, partitions=partitions)
        if by not in ("weight", "users"):
            raise ValueError(f"by must be 'weight' or 'users', got {by!r}")
        self.by: PopularityBy = by
        self.popularity: np.ndarray | None = None

    def fit(self, train: DataFrame, *, n_items: int) -> Self:
        """Count each item's popularity in ``train``."""
        self._start_fit(train, n_items)
        self.popularity = item_popularity(train, n_items, self.by)
        return self

    def _item_side(self) -> Any:
        assert self.popularity is not None
        return self.popularity

    def recommend(
        self,
        users: DataFrame,
        k: int,
        *,
        exclude: DataFrame | None = None,
        exclude_seen: bool = True,
    ) -> DataFrame:
        """The most popular items each user has not seen (every requested user gets rows)."""
        return self._recommend(
            users,
            k,
            _global_scores,
            exclude=exclude,
            exclude_seen=exclude_seen,
            require_history=False,
            positive_only=True,
        )

    def top_items(self, k: int) -> DataFrame:
        """The ``k`` most popular items: ``item_idx, score, rank`` (a driver-side table)."""
        assert self.popularity is not None, "not fitted"
        return active_spark().createDataFrame(_top_items_frame(self.popularity, k))

    def params(self) -> dict[str, Any]:
        """Model name and the popularity measure."""
        return {"model": self.name, "by": self.by}

    def save(self, path: PathLike) -> None:
        """Write popularity.npy, meta.json and the histories."""
        assert self.popularity is not None, "not fitted"
        self._save_common(path, {"popularity": self.popularity})

    @classmethod
    def load(cls, path: PathLike) -> Self:
        """Read a saved :class:`Popularity`."""
        folder, meta = cls._read_meta(path)
        model = cls(meta["params"]["by"])
        model._load_common(folder, meta)
        model.popularity = load_array(folder, "popularity")
        return model


@dataclass(frozen=True)
class CategorySide:
    """What :class:`CategoryPopularity` broadcasts."""

    item_category: sp.csr_matrix  # (n_items, n_categories) one-hot; no row for uncategorised
    category_code: np.ndarray  # (n_items,) int32, n_categories where uncategorised
    rank_in_category: np.ndarray  # (n_items,) float32, 1 = most popular of its category
    popularity: np.ndarray  # (n_items,) float64 global popularity
    top_categories: int


def _category_scores(block: scoring.UserBlock, side: CategorySide) -> np.ndarray:
    """Top-category items first (interleaved by affinity / in-category rank), then global."""
    pop = side.popularity
    fallback = (0.5 * pop / max(float(pop.max()), 1e-300)).astype(np.float32)
    aff = (block.history @ side.item_category).toarray().astype(np.float32)
    n_users, n_cat = aff.shape
    if n_cat > side.top_categories:
        drop = np.argpartition(-aff, side.top_categories, axis=1)[:, side.top_categories :]
        np.put_along_axis(aff, drop, 0.0, axis=1)
    total = aff.sum(axis=1, keepdims=True)
    share = np.divide(aff, total, out=np.zeros_like(aff), where=total > 0)
    share = np.hstack([share, np.zeros((n_users, 1), np.float32)])  # uncategorised column
    a = share[:, side.category_code]
    tier = (a > 0) & (pop > 0)[None, :]
    return np.where(tier, 1.0 + a / side.rank_in_category[None, :], fallback[None, :])


class CategoryPopularity(Recommender):
    """Popular items of each user's top categories, then globally popular items.

    ``items[item_idx, category]`` assigns one category per item (the smallest where
    an item has several). A user's category affinity is its training weight per
    category; of its ``top_categories`` categories, the item ranked r-th in a category
    of share s scores ``1 + s / r`` (so categories interleave by share), every other
    item its scaled global popularity (< 1). Users without history get global order.
    """

    name = "category_popularity"

    def __init__(
        self,
        items: DataFrame,
        *,
        by: PopularityBy = "weight",
        top_categories: int = 3,
        block_size: int = scoring.DEFAULT_BLOCK_SIZE,
        partitions: int | None = None,
    ) -> None:
        super().__init__(block_size=block_size, partitions=partitions)
        if top_categories < 1:
            raise ValueError(f"top_categories must be >= 1, got {top_categories}")
        if by not in ("weight", "users"):
            raise ValueError(f"by must be 'weight' or 'users', got {by!r}")
        self.items = items
        self.by: PopularityBy = by
        self.top_categories = top_categories
        self.popularity: np.ndarray | None = None
        self.category_code: np.ndarray | None = None
        self.categories: list[str] = []

    def fit(self, train: DataFrame, *, n_items: int) -> Self:
        """Count popularity and read each item's category."""
        self._start_fit(train, n_items)
        self.popularity = item_popularity(train, n_items, self.by)
        pdf = scoring.collect_pandas(
            self.items.where(F.col(S.CATEGORY).isNotNull())
            .groupBy(F.col(S.ITEM_IDX).cast("long").alias(S.ITEM_IDX))
            .agg(F.min(S.CATEGORY).alias(S.CATEGORY))
        )
        pdf = pdf[(pdf[S.ITEM_IDX] >= 0) & (pdf[S.ITEM_IDX] < n_items)]
        self.categories = sorted(pdf[S.CATEGORY].unique().tolist())
        lookup = {c: i for i, c in enumerate(self.categories)}
        code = np.full(n_items, len(self.categories), np.int32)
        code[pdf[S.ITEM_IDX].to_numpy(np.int64)] = pdf[S.CATEGORY].map(lookup).to_numpy(np.int32)
        self.category_code = code
        return self

    def _item_side(self) -> Any:
        assert self.popularity is not None and self.category_code is not None
        pop, code, n_cat = self.popularity, self.category_code, len(self.categories)
        n = len(pop)
        order = np.lexsort((np.arange(n), -pop, code))  # by category, then popularity desc
        sorted_code = code[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_code)) + 1]
        first = np.repeat(starts, np.diff(np.r_[starts, n]))
        rank = np.empty(n, np.float32)
        rank[order] = np.arange(n) - first + 1
        known = code < n_cat
        onehot = sp.csr_matrix(
            (np.ones(int(known.sum()), np.float32), (np.flatnonzero(known), code[known])),
            shape=(n, n_cat),
        )
        return CategorySide(onehot, code, rank, pop, self.top_categories)

    def recommend(
        self,
        users: DataFrame,
        k: int,
        *,
        exclude: DataFrame | None = None,
        exclude_seen: bool = True,
    ) -> DataFrame:
        """Top-category popular items, then global ones (every requested user gets rows)."""
        return self._recommend(
            users,
            k,
            _category_scores,
            exclude=exclude,
            exclude_seen=exclude_seen,
            require_history=False,
            positive_only=True,
        )

    def top_items(self, k: int) -> DataFrame:
        """The ``k`` most popular items per category: ``category, item_idx, score, rank``."""
        assert self.popularity is not None and self.category_code is not None, "not fitted"
        frames = []
        for c, cat in enumerate(self.categories):
            pop = np.where(self.category_code == c, self.popularity, 0.0)
            frames.append(_top_items_frame(pop, k).assign(**{S.CATEGORY: cat}))
        cols = [S.CATEGORY, S.ITEM_IDX, S.SCORE, S.RANK]
        pdf = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
        schema = f"{S.CATEGORY} string, {S.ITEM_IDX} long, {S.SCORE} double, {S.RANK} int"
        return active_spark().createDataFrame(pdf, schema)

    def params(self) -> dict[str, Any]:
        """Model name, popularity measure and number of categories used per user."""
        return {"model": self.name, "by": self.by, "top_categories": self.top_categories}

    def save(self, path: PathLike) -> None:
        """Write the arrays, category names, meta.json and the histories."""
        assert self.popularity is not None and self.category_code is not None, "not fitted"
        arrays = {
            "popularity": self.popularity,
            "category_code": self.category_code,
            "categories": np.array(self.categories, dtype=str),
        }
        self._save_common(path, arrays)

    @classmethod
    def load(cls, path: PathLike) -> Self:
        """Read a saved :class:`CategoryPopularity` (its items DataFrame is not needed)."""
        folder, meta = cls._read_meta(path)
        p = meta["params"]
        spark = active_spark()
        empty = spark.createDataFrame([], f"{S.ITEM_IDX} long, {S.CATEGORY} string")
        model = cls(empty, by=p["by"], top_categories=p["top_categories"])
        model._load_common(folder, meta)
        model.popularity = load_array(folder, "popularity")
        model.category_code = load_array(folder, "category_code")
        model.categories = [str(c) for c in load_array(folder, "categories")]
        return model
