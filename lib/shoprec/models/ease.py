"""EASE (Steck 2019): a closed-form linear item-item autoencoder.

The user-item matrix X (capped histories, its non-zeros only) is collected on the
driver and ``G = XᵀX`` is built there as a dense float32 matrix, a block of item rows
at a time (no item pair travels through Spark). ``P = (G + λI)⁻¹`` comes from a
Cholesky factorisation and its inverse (LAPACK ``potrf`` + ``potri``, in place), and
``B = I - P / diag(P)`` (so ``B[i, j] = -P[i, j] / P[j, j]``, zero diagonal) overwrites
the same buffer: one ``4 * n²``-byte matrix (2.5 GB at 25k items) is the driver's
peak, beside X. B reaches each executor once as a file its Python workers map
(:class:`~shoprec.models.shared.SharedArray`); a user's scores are its history row times B.

The limit is memory, not an item count: a fit that would not fit in the memory the
driver has free (or ``max_memory_bytes``) is refused in one line naming both figures.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import psutil
import scipy.sparse as sp
from pyspark import SparkContext
from pyspark.sql import DataFrame
from scipy.linalg import lapack

from shoprec.models import scoring
from shoprec.models.base import PathLike, Recommender, load_array
from shoprec.models.cooccurrence import (
    DEFAULT_BLOCK_CELLS,
    capped_histories,
    history_matrix,
    item_blocks,
)
from shoprec.models.scoring import Shipped
from shoprec.models.shared import SharedArray

GB = 1e9


def memory_needed(n_items: int) -> int:
    """Bytes a fit needs on the driver: the n x n float32 buffer and 5% for the rest."""
    return int(4 * n_items * n_items * 1.05)


def dense_gram(x: sp.csr_matrix, *, block_cells: int = DEFAULT_BLOCK_CELLS) -> np.ndarray:
    """``XᵀX`` as a dense float32 array, computed a block of item rows at a time."""
    n = x.shape[1]
    xt = x.T.tocsr()
    gram = np.zeros((n, n), np.float32)
    for start, stop in item_blocks(n, block_cells):
        gram[start:stop] = (xt[start:stop] @ x).toarray()
    return gram


def _fill_lower(a: np.ndarray, block: int = 1024) -> None:
    """Copy the upper triangle of the square ``a`` onto its lower one, in place."""
    n = a.shape[0]
    for start in range(0, n, block):
        stop = min(n, start + block)
        a[start:stop, :start] = a[:start, start:stop].T
        diag = a[start:stop, start:stop]
        diag[np.tril_indices(stop - start, -1)] = diag.T[np.tril_indices(stop - start, -1)]


def ease_weights(gram: np.ndarray, reg: float) -> np.ndarray:
    """``B = I - P / diag(P)`` with ``P = (G + reg I)⁻¹`` and zero diagonal, in place.

    ``gram`` (float32, C order, symmetric) becomes B and is returned. Raises
    ValueError when ``G + reg I`` is not positive definite (numerically).
    """
    n = gram.shape[0]
    gram[np.diag_indices(n)] += reg
    # G is symmetric, so its transpose is the same matrix in Fortran order: LAPACK
    # factorises and inverts it in place, its lower triangle being G's upper one.
    factor, info = lapack.spotrf(gram.T, lower=1, clean=0, overwrite_a=1)
    if info == 0:
        inverse, info = lapack.spotri(factor, lower=1, overwrite_c=1)
    if info != 0:
        raise ValueError(
            f"EASE: G + {reg} I is not positive definite in float32 (LAPACK info {info}); "
            "use a larger reg"
        )
    if not np.shares_memory(inverse, gram):  # LAPACK had to copy after all
        gram[...] = inverse.T
        del inverse
    _fill_lower(gram)
    diag = np.diag(gram).copy()
    gram /= -diag[None, :]
    np.fill_diagonal(gram, 0.0)
    return gram


def _ease_scores(block: scoring.UserBlock, b: np.ndarray) -> np.ndarray:
    return np.asarray(block.history @ b)


def _ease_columns(ids: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(b[:, ids].T)


class EASE(Recommender):
    """Embarrassingly shallow autoencoder with L2 regularisation ``reg`` (λ).

    Raises ValueError when the dense item-item matrix would not fit in the driver's
    free memory (or ``max_memory_bytes``), or when ``n_items > max_items`` where an
    explicit cap is set.
    """

    name = "ease"

    def __init__(
        self,
        reg: float = 500.0,
        *,
        binary: bool = True,
        max_items: int | None = None,
        max_memory_bytes: int | None = None,
        max_user_items: int | None = None,
        block_size: int = scoring.DEFAULT_BLOCK_SIZE,
        partitions: int | None = None,
    ) -> None:
        super().__init__(block_size=block_size, partitions=partitions)
        if reg <= 0:
            raise ValueError(f"reg must be > 0, got {reg}")
        self.reg = reg
        self.binary = binary
        self.max_items = max_items
        self.max_memory_bytes = max_memory_bytes
        self.max_user_items = max_user_items
        self.weights: np.ndarray | None = None

    def check_fits(self, n_items: int) -> None:
        """Raise ValueError, naming the figures, when ``n_items`` is more than allowed."""
        if self.max_items is not None and n_items > self.max_items:
            raise ValueError(f"EASE: n_items={n_items} exceeds max_items={self.max_items}")
        free = psutil.virtual_memory().available
        limit = free if self.max_memory_bytes is None else min(free, self.max_memory_bytes)
        need = memory_needed(n_items)
        if need > limit:
            raise ValueError(
                f"EASE: {n_items:,} items need {need / GB:.1f} GB on the driver (a dense "
                f"float32 {n_items:,}x{n_items:,} matrix), more than the {limit / GB:.1f} GB "
                f"allowed ({free / GB:.1f} GB free, max_memory_bytes "
                f"{'unset' if self.max_memory_bytes is None else f'{self.max_memory_bytes / GB:.1f} GB'}); "
                "use ItemKNN or ALS for this catalog"
            )

    def fit(self, train: DataFrame, *, n_items: int) -> Self:
        """Collect X, build G on the driver and solve for B there."""
        self.check_fits(n_items)
        self._start_fit(train, n_items)
        x = history_matrix(
            capped_histories(train, binary=self.binary, max_user_items=self.max_user_items),
            n_items,
        )
        gram = dense_gram(x)
        del x
        self.weights = ease_weights(gram, self.reg)
        return self

    def _item_side(self) -> Any:
        assert self.weights is not None
        return self.weights

    def _ship(self, sc: SparkContext, side: Any) -> Shipped:
        """B reaches each executor once, memory-mapped by all its workers (n² floats)."""
        return SharedArray(sc, side, self.name)

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
            "max_memory_bytes": self.max_memory_bytes,
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
            max_items=p.get("max_items"),
            max_memory_bytes=p.get("max_memory_bytes"),
            max_user_items=p["max_user_items"],
        )
        model._load_common(folder, meta)
        model.weights = load_array(folder, "weights")
        return model
