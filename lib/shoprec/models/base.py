"""The :class:`Recommender` contract and the plumbing every model shares.

Input everywhere is ``train: DataFrame[user_idx long, item_idx long, weight double]``
(one row per user-item pair) and ``n_items``. A fitted model keeps its item-side
state on the driver (small: a vector, factors, an item-item matrix) and the users'
histories as a lazy DataFrame; scoring broadcasts the item side once per model and
runs in the executors (:mod:`shoprec.models.scoring`).

Saved models are a folder on any filesystem the lake lives on (a local path or a URI
such as ``s3a://bucket/lake/_models/...``): ``meta.json`` (class, params, ``n_items``),
item-side arrays as ``.npy``, and per-user state (histories, user factors) as Parquet
written by Spark, since it is as large as the user base. :class:`ModelFolder` reads and
writes the small files through the lake's :class:`~shoprec.lake.Storage`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.lake import Storage, StorageOptions, join, load_npy, normalize_root, save_npy
from shoprec.models import scoring
from shoprec.models.scoring import Shipped

PathLike = str | Path
META_FILE = "meta.json"
HISTORY_DIR = "history"


class NotFittedError(RuntimeError):
    """A model was used before ``fit`` or ``load``."""


class Recommender(ABC):
    """A top-k recommender over dense ``user_idx``/``item_idx`` indices."""

    name: str = "recommender"
    # True where fit_all fits several settings in one pass over the training data.
    shares_fit: bool = False

    def __init__(
        self, *, block_size: int = scoring.DEFAULT_BLOCK_SIZE, partitions: int | None = None
    ) -> None:
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        if partitions is not None and partitions < 1:
            raise ValueError(f"partitions must be >= 1 or None, got {partitions}")
        self.block_size = block_size  # users (or items) scored per numpy block
        self.partitions = partitions  # scoring tasks; None: as the input comes
        self._n_items: int | None = None
        self._history: DataFrame | None = None
        self._side: Shipped | None = None

    # ------------------------------------------------------------------ contract
    @abstractmethod
    def fit(self, train: DataFrame, *, n_items: int) -> Self:
        """Fit on ``train[user_idx, item_idx, weight]`` with items ``0..n_items-1``."""

    @abstractmethod
    def recommend(
        self,
        users: DataFrame,
        k: int,
        *,
        exclude: DataFrame | None = None,
        exclude_seen: bool = True,
    ) -> DataFrame:
        """Top-``k`` ``user_idx, item_idx, score, rank`` for ``users[user_idx]``.

        Ranks run 1..k; items in ``exclude[user_idx, item_idx]`` and, with
        ``exclude_seen``, the user's training items are never returned. Users the
        model does not know get no rows (the caller handles cold start).
        """

    @classmethod
    def fit_all(cls, models: Sequence[Recommender], train: DataFrame, *, n_items: int) -> None:
        """Fit every model of ``models`` (settings of this class) on ``train``.

        Classes with :attr:`shares_fit` do it in one pass; the others fit each in turn
        (a grid search fits, scores and releases one at a time instead).
        """
        for model in models:
            model.fit(train, n_items=n_items)

    def similar_items(self, k: int) -> DataFrame | None:
        """Top-``k`` ``item_idx, similar_item_idx, score, rank`` per item, or None."""
        return None

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Hyperparameters and model name, JSON-serialisable, for experiment tracking."""

    @abstractmethod
    def save(self, path: PathLike) -> None:
        """Write the fitted model to the folder ``path``, a local path or a URI (replacing it)."""

    @classmethod
    @abstractmethod
    def load(cls, path: PathLike) -> Self:
        """Read a model written by :meth:`save` (needs an active SparkSession)."""

    # ------------------------------------------------------------------ shared
    @property
    def n_items(self) -> int:
        """The number of items the model was fitted with."""
        if self._n_items is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load()")
        return self._n_items

    def release(self) -> None:
        """Drop the broadcast item-side state from the executors (rebuilt on next use)."""
        if self._side is not None:
            self._side.unpersist()
            self._side = None

    def _item_side(self) -> Any:
        """The driver-side object broadcast to the executors for scoring."""
        raise NotImplementedError

    def _broadcast(self) -> Shipped:
        if self._side is None:
            self._side = self._ship(active_spark().sparkContext, self._item_side())
        return self._side

    def _ship(self, sc: SparkContext, side: Any) -> Shipped:
        """How the item side reaches the executors: a broadcast, unless a model says otherwise."""
        return sc.broadcast(side)

    def _start_fit(self, train: DataFrame, n_items: int, *, checked: bool = False) -> None:
        """Validate ``train`` against ``n_items`` (one Spark job, skipped when ``checked``
        by the caller already) and reset fitted state."""
        if not checked:
            check_train(train, n_items)
        self.release()
        self._n_items = n_items
        self._history = scoring.user_histories(train)

    def _recommend(
        self,
        users: DataFrame,
        k: int,
        score_fn: scoring.ScoreFn,
        *,
        exclude: DataFrame | None,
        exclude_seen: bool,
        require_history: bool = True,
        user_vectors: DataFrame | None = None,
        positive_only: bool = False,
    ) -> DataFrame:
        n_items = self.n_items
        inputs = scoring.scoring_input(
            users,
            self._history,
            exclude=exclude,
            user_vectors=user_vectors,
            require_history=require_history,
        )
        return scoring.score_users(
            inputs,
            self._broadcast(),
            score_fn,
            n_items=n_items,
            k=k,
            exclude_seen=exclude_seen,
            positive_only=positive_only,
            block_size=self.block_size,
            num_partitions=self.partitions,
        )

    def _similar(self, k: int, fn: scoring.SimilarityFn) -> DataFrame:
        return scoring.similar_from(
            active_spark(),
            self._broadcast(),
            fn,
            n_items=self.n_items,
            k=k,
            block_size=self.block_size,
            num_partitions=self.partitions,
        )

    # ------------------------------------------------------------- persistence
    def _save_common(self, path: PathLike, arrays: dict[str, np.ndarray]) -> ModelFolder:
        """Write meta.json, ``arrays`` as .npy and the histories; return the folder."""
        folder = ModelFolder.open(path)
        folder.clear()
        meta = {"class": type(self).__name__, "n_items": self.n_items, "params": self.params()}
        folder.write_json(META_FILE, meta)
        for key, arr in arrays.items():
            folder.write_array(key, arr)
        if self._history is not None:
            self._history.write.mode("overwrite").parquet(folder.path(HISTORY_DIR))
        return folder

    @classmethod
    def _read_meta(cls, path: PathLike) -> tuple[ModelFolder, dict[str, Any]]:
        folder = ModelFolder.open(path)
        if not folder.exists(META_FILE):
            raise ValueError(f"{folder.uri} holds no saved model ({META_FILE} missing)")
        meta: dict[str, Any] = folder.read_json(META_FILE)
        if meta.get("class") != cls.__name__:
            raise ValueError(f"{folder.uri} holds a {meta.get('class')}, not a {cls.__name__}")
        return folder, meta

    def _load_common(self, folder: ModelFolder, meta: dict[str, Any]) -> None:
        self._n_items = int(meta["n_items"])
        if folder.exists(HISTORY_DIR):
            self._history = active_spark().read.parquet(folder.path(HISTORY_DIR))


class ModelFolder:
    """A saved model's folder: small files through the lake's storage, paths for Spark.

    Example::

        folder = ModelFolder.open("s3a://shop/lake/_models/2026-11-01/ease")
        folder.write_array("weights", b)
        b = folder.array("weights")
    """

    def __init__(self, uri: str, storage: Storage) -> None:
        self.uri = uri
        self.storage = storage

    @classmethod
    def open(cls, path: PathLike) -> ModelFolder:
        """The folder at ``path``, reached with the active session's storage settings."""
        spark = SparkSession.getActiveSession()
        options = StorageOptions.from_spark(spark) if spark is not None else StorageOptions()
        return cls(normalize_root(str(path)), Storage(options))

    def path(self, name: str) -> str:
        """Where ``name`` lives in the folder (for Spark readers and writers)."""
        return join(self.uri, name)

    def exists(self, name: str) -> bool:
        return self.storage.exists(self.path(name))

    def names(self) -> list[str]:
        return self.storage.listdir(self.uri)

    def clear(self) -> None:
        self.storage.delete(self.uri)

    def write_json(self, name: str, obj: Any) -> None:
        self.storage.write_bytes(
            self.path(name), json.dumps(obj, indent=2, sort_keys=True).encode()
        )

    def read_json(self, name: str) -> Any:
        return self.storage.read_json(self.path(name))

    def write_bytes(self, name: str, data: bytes) -> None:
        self.storage.write_bytes(self.path(name), data)

    def read_bytes(self, name: str) -> bytes:
        return self.storage.read_bytes(self.path(name))

    def write_array(self, key: str, array: np.ndarray) -> None:
        save_npy(self.storage, self.path(f"{key}.npy"), array)

    def array(self, key: str) -> np.ndarray:
        arr: np.ndarray = load_npy(self.storage, self.path(f"{key}.npy"))
        return arr


def active_spark() -> SparkSession:
    """The active SparkSession; models never create one."""
    spark = SparkSession.getActiveSession()
    if spark is None:
        raise RuntimeError("no active SparkSession")
    return spark


def load_array(folder: ModelFolder, key: str) -> np.ndarray:
    """Read ``key.npy`` from a saved model folder."""
    return folder.array(key)


def check_train(train: DataFrame, n_items: int) -> None:
    """Raise ValueError unless ``train`` has the columns and indices in ``0..n_items-1``."""
    if n_items < 1:
        raise ValueError(f"n_items must be >= 1, got {n_items}")
    missing = {S.USER_IDX, S.ITEM_IDX, S.WEIGHT} - set(train.columns)
    if missing:
        raise ValueError(f"train lacks columns {sorted(missing)}")
    row = train.agg(
        F.min(S.ITEM_IDX).alias("lo"),
        F.max(S.ITEM_IDX).alias("hi"),
        F.min(S.USER_IDX).alias("ulo"),
        F.sum(F.when(F.col(S.WEIGHT).isNull() | F.isnan(S.WEIGHT), 1).otherwise(0)).alias("bad"),
    ).first()
    if row is None or row["lo"] is None:
        raise ValueError("train is empty")
    if row["lo"] < 0 or row["hi"] >= n_items:
        raise ValueError(f"train item_idx spans {row['lo']}..{row['hi']}, outside 0..{n_items - 1}")
    if row["ulo"] < 0:
        raise ValueError(f"train has a negative user_idx ({row['ulo']})")
    if row["bad"]:
        raise ValueError(f"train has {row['bad']} null or NaN weights")
