"""Implicit-feedback matrix factorisation with Spark MLlib's ALS.

User factors stay in Spark (a DataFrame joined to the requested users); item factors
(``n_items x rank`` float32) are collected and broadcast, and each block of users is
scored as ``U_b Yᵀ`` by the shared block scorer, which masks seen and excluded items
(``recommendForAllUsers`` cannot).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.models import scoring
from shoprec.models.base import PathLike, Recommender, active_spark, load_array
from shoprec.models.scoring import FEATURES

USER_FACTORS_DIR = "user_factors"


@dataclass(frozen=True)
class FactorSide:
    """What :class:`ALSRecommender` broadcasts."""

    factors: np.ndarray  # (n_items, rank) float32; zero rows for items ALS never saw
    known: np.ndarray  # (n_items,) bool: the item has a factor


def als_scores(block: scoring.UserBlock, side: FactorSide) -> np.ndarray:
    """(b, n_items) scores of a user block: user factors x item factors; unknown items -inf."""
    assert block.features is not None
    scores = block.features @ side.factors.T
    scores[:, ~side.known] = -np.inf
    return scores


def _cosine_rows(ids: np.ndarray, side: FactorSide) -> np.ndarray:
    norms = np.linalg.norm(side.factors, axis=1)
    unit = side.factors / np.where(norms > 0, norms, 1.0)[:, None]
    scores = unit[ids] @ unit.T
    scores[:, ~side.known] = -np.inf
    scores[~side.known[ids]] = -np.inf
    return scores


class ALSRecommender(Recommender):
    """MLlib ALS with ``implicitPrefs=True``; weight is the confidence signal (times ``alpha``).

    ``num_blocks`` sets MLlib's user and item blocks (its parallelism); results are
    reproducible for a fixed ``seed`` and ``num_blocks``.
    """

    name = "als"

    def __init__(
        self,
        rank: int = 64,
        reg_param: float = 0.1,
        alpha: float = 10.0,
        max_iter: int = 10,
        *,
        seed: int = 42,
        nonnegative: bool = False,
        num_blocks: int = 10,
        block_size: int = scoring.DEFAULT_BLOCK_SIZE,
        partitions: int | None = None,
    ) -> None:
        super().__init__(block_size=block_size, partitions=partitions)
        if rank < 1 or max_iter < 1:
            raise ValueError(f"rank and max_iter must be >= 1, got {rank}, {max_iter}")
        if reg_param < 0 or alpha < 0:
            raise ValueError(f"reg_param and alpha must be >= 0, got {reg_param}, {alpha}")
        self.rank = rank
        self.reg_param = reg_param
        self.alpha = alpha
        self.max_iter = max_iter
        self.seed = seed
        self.nonnegative = nonnegative
        self.num_blocks = num_blocks
        self.item_factors: np.ndarray | None = None
        self.item_known: np.ndarray | None = None
        self.user_factors: DataFrame | None = None
        self.als_model: ALSModel | None = None

    def fit(self, train: DataFrame, *, n_items: int) -> Self:
        """Run ALS; collect item factors, keep user factors as a DataFrame."""
        self._start_fit(train, n_items)
        als = ALS(
            rank=self.rank,
            maxIter=self.max_iter,
            regParam=self.reg_param,
            alpha=self.alpha,
            implicitPrefs=True,
            nonnegative=self.nonnegative,
            coldStartStrategy="drop",
            seed=self.seed,
            numUserBlocks=self.num_blocks,
            numItemBlocks=self.num_blocks,
            userCol=S.USER_IDX,
            itemCol=S.ITEM_IDX,
            ratingCol=S.WEIGHT,
        )
        model = als.fit(train.select(S.USER_IDX, S.ITEM_IDX, S.WEIGHT))
        self.als_model = model
        pdf = scoring.collect_pandas(model.itemFactors)
        ids = pdf["id"].to_numpy(np.int64)
        factors = np.zeros((n_items, self.rank), np.float32)
        if len(pdf):
            factors[ids] = np.stack([np.asarray(f, np.float32) for f in pdf["features"]])
        known = np.zeros(n_items, bool)
        known[ids] = True
        self.item_factors, self.item_known = factors, known
        self.user_factors = model.userFactors.select(
            F.col("id").cast("long").alias(S.USER_IDX), F.col("features").alias(FEATURES)
        )
        return self

    def _item_side(self) -> Any:
        assert self.item_factors is not None and self.item_known is not None
        return FactorSide(self.item_factors, self.item_known)

    def recommend(
        self,
        users: DataFrame,
        k: int,
        *,
        exclude: DataFrame | None = None,
        exclude_seen: bool = True,
    ) -> DataFrame:
        """Dot product of user and item factors (only users ALS has a factor for)."""
        if self.user_factors is None:
            raise RuntimeError("ALSRecommender is not fitted; call fit() or load()")
        return self._recommend(
            users,
            k,
            als_scores,
            exclude=exclude,
            exclude_seen=exclude_seen,
            require_history=False,
            user_vectors=self.user_factors,
        )

    def similar_items(self, k: int) -> DataFrame:
        """Each item's top-``k`` items by positive cosine of item factors."""
        return self._similar(k, _cosine_rows)

    def params(self) -> dict[str, Any]:
        """Model name and hyperparameters."""
        return {
            "model": self.name,
            "rank": self.rank,
            "reg_param": self.reg_param,
            "alpha": self.alpha,
            "max_iter": self.max_iter,
            "seed": self.seed,
            "nonnegative": self.nonnegative,
            "num_blocks": self.num_blocks,
        }

    def save(self, path: PathLike) -> None:
        """Write item factors (.npy), user factors (Parquet), meta.json and the histories."""
        assert self.item_factors is not None and self.item_known is not None, "not fitted"
        assert self.user_factors is not None
        folder = self._save_common(
            path, {"item_factors": self.item_factors, "item_known": self.item_known}
        )
        self.user_factors.write.mode("overwrite").parquet(folder.path(USER_FACTORS_DIR))

    @classmethod
    def load(cls, path: PathLike) -> Self:
        """Read a saved :class:`ALSRecommender` (without the MLlib model object)."""
        folder, meta = cls._read_meta(path)
        p = meta["params"]
        model = cls(
            p["rank"],
            p["reg_param"],
            p["alpha"],
            p["max_iter"],
            seed=p["seed"],
            nonnegative=p["nonnegative"],
            num_blocks=p["num_blocks"],
        )
        model._load_common(folder, meta)
        model.item_factors = load_array(folder, "item_factors")
        model.item_known = load_array(folder, "item_known")
        model.user_factors = active_spark().read.parquet(folder.path(USER_FACTORS_DIR))
        return model
