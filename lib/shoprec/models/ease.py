"""EASE (Steck 2019): a closed-form linear item-item autoencoder.

``G = XᵀX`` is summed in Spark (:func:`~shoprec.models.cooccurrence.cooccurrence`)
and collected as a dense ``n_items x n_items`` matrix; ``P = (G + λI)⁻¹`` and
``B = I - P / diag(P)`` (so ``B[i, j] = -P[i, j] / P[j, j]``, zero diagonal) are
solved on the driver. Peak driver memory is about ``2 * 8 * n² + 4 * n²`` bytes
(≈ 8 GB at 20k items); B (float32, ``4 * n²`` bytes, 1.6 GB at 20k) is broadcast
and a user's scores are its history row times B.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.linalg
from pyspark.sql import DataFrame

from shoprec import schemas as S
from shoprec.models import scoring
from shoprec.models.base import PathLike, Recommender, load_array
from shoprec.models.cooccurrence import COOCCURRENCE, DEFAULT_BLOCK_PAIRS, cooccurrence
from shoprec.models.scoring import SIMILAR_ITEM_IDX

DEFAULT_MAX_ITEMS = 20_000


def ease_weights(gram: np.ndarray, reg: float) -> np.ndarray:
    """``B = I - P / diag(P)`` with ``P = (G + reg I)⁻¹`` and zero diagonal (float32).

    ``gram`` is overwritten (it becomes P) to keep one n x n float64 buffer alive.
    """
    n = gram.shape[0]
    gram[np.diag_indices(n)] += reg
    p = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
    diag = np.diag(p).copy()
    p /= -diag[None, :]
    np.fill_diagonal(p, 0.0)
    return p.astype(np.float32)


def _ease_scores(block: scoring.UserBlock, b: np.ndarray) -> np.ndarray:
    return np.asarray(block.history @ b)


def _ease_columns(ids: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(b[:, ids].T)


class EASE(Recommender):
    """Embarrassingly shallow autoencoder with L2 regularisation ``reg`` (λ).

    Raises ValueError when ``n_items > max_items``: the dense item-item matrix must
    fit on the driver and in every executor's broadcast.
    """

    name = "ease"

    def __init__(
        self,
        reg: float = 500.0,
        *,
        binary: bool = True,
        max_items: int = DEFAULT_MAX_ITEMS,
        max_user_items: int | None = None,
        block_size: int = scoring.DEFAULT_BLOCK_SIZE,
        partitions: int | None = None,
        block_pairs: int = DEFAULT_BLOCK_PAIRS,
    ) -> None:
        super().__init__(block_size=block_size, partitions=partitions)
        if reg <= 0:
            raise ValueError(f"reg must be > 0, got {reg}")
        self.reg = reg
        self.binary = binary
        self.max_items = max_items
        self.max_user_items = max_user_items
        self.block_pairs = block_pairs
        self.weights: np.ndarray | None = None

    def fit(self, train: DataFrame, *, n_items: int) -> Self:
        """Sum the Gram matrix in Spark, collect it and solve for B on the driver."""
        if n_items > self.max_items:
            raise ValueError(
                f"EASE needs a dense {n_items}x{n_items} item matrix on the driver; "
                f"n_items={n_items} exceeds max_items={self.max_items} "
                "(raise max_items if the driver and executors have the memory, "
                "or use ItemKNN/ALS)"
            )
        self._start_fit(train, n_items)
        pdf = scoring.collect_pandas(
            cooccurrence(
                train,
                n_items=n_items,
                binary=self.binary,
                max_user_items=self.max_user_items,
                block_pairs=self.block_pairs,
            )
        )
        i = pdf[S.ITEM_IDX].to_numpy(np.int64)
        j = pdf[SIMILAR_ITEM_IDX].to_numpy(np.int64)
        v = pdf[COOCCURRENCE].to_numpy(np.float64)
        del pdf
        gram = np.zeros((n_items, n_items), np.float64)
        gram[i, j] = v
        gram[j, i] = v
        self.weights = ease_weights(gram, self.reg)
        return self

    def _item_side(self) -> Any:
        assert self.weights is not None
        return self.weights

    def recommend(
        self,
        users: DataFrame,
        k: int,
        *,
        exclude: DataFrame | None = None,
        exclude_seen: bool = True,
    ) -> DataFrame:
        """History row times B (only users with a training history)."""
        return self._recommend(users, k, _ease_scores, exclude=exclude, exclude_seen=exclude_seen)

    def similar_items(self, k: int) -> DataFrame:
        """For item j, the items i with the largest positive ``B[i, j]`` (B's column j)."""
        return self._similar(k, _ease_columns)

    def params(self) -> dict[str, Any]:
        """Model name and hyperparameters."""
        return {
            "model": self.name,
            "reg": self.reg,
            "binary": self.binary,
            "max_items": self.max_items,
            "max_user_items": self.max_user_items,
        }

    def save(self, path: PathLike) -> None:
        """Write B as weights.npy, meta.json and the histories."""
        assert self.weights is not None, "not fitted"
        self._save_common(path, {"weights": self.weights})

    @classmethod
    def load(cls, path: PathLike) -> Self:
        """Read a saved :class:`EASE`."""
        folder, meta = cls._read_meta(path)
        p = meta["params"]
        model = cls(
            p["reg"],
            binary=p["binary"],
            max_items=p["max_items"],
            max_user_items=p["max_user_items"],
        )
        model._load_common(folder, meta)
        model.weights = load_array(folder, "weights")
        return model
