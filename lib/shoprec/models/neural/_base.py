"""What the neural recommenders share: training settings, item-side state, persistence.

Every neural model trains a PyTorch network through :func:`shoprec.training.train`
(in process, or Horovod ranks on the executors; see :class:`TrainConfig`), then keeps
on the driver only what scoring needs: a ``(n_items, dim)`` float32 matrix of item
vectors and, for models whose user vector is a function of the history, the trained
network itself, which is broadcast with the item matrix. The executors rebuild each
block's user vectors from the users' histories (:mod:`shoprec.models.scoring`) and
take the top-k of ``U Vᵀ``; no user scores reach the driver.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
import torch
from pyspark.sql import DataFrame
from torch import nn
from torch.nn import functional as TF

from shoprec import training
from shoprec.lake import StorageOptions
from shoprec.models import scoring
from shoprec.models.base import ModelFolder, PathLike, Recommender, load_array
from shoprec.training import NetFactory, TrainConfig, TrainResult

NET_FILE = "net.pt"
NET_CONFIG_FILE = "net.json"
ITEM_VECTORS = "item_vectors"
# Settings a resumed run may change: how it runs, and how many epochs it goes to
# (a run stopped after epoch 1 of 10 is resumed by the same call with epochs=10).
_RESUMABLE_CHANGES = frozenset({"workers", "backend", "threads", "epochs"})


@dataclass(frozen=True)
class NetSide:
    """What a history-encoding model broadcasts: its network and the item vectors."""

    net: nn.Module | None  # eval mode, CPU; None for models scored from user vectors
    items: np.ndarray  # (n_items, dim) float32
    length: int = 0  # history items (or sequence positions) the network reads per user


def executor_torch() -> None:
    """One torch thread per Spark task: the executor already runs a task per core."""
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def cosine_rows(ids: np.ndarray, side: NetSide) -> np.ndarray:
    """Cosine of the item vectors of ``ids`` with every item (:data:`scoring.SimilarityFn`)."""
    norms = np.linalg.norm(side.items, axis=1)
    unit = side.items / np.where(norms > 0, norms, 1.0)[:, None]
    out: np.ndarray = unit[ids] @ unit.T
    return out


def top_weighted(history: sp.csr_matrix, length: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``length`` heaviest items (ties: lower item first), right-padded with ``pad``.

    Returns ``(items (b, length) int64, weights (b, length) float32)``; the same order
    and padding as the training examples of :func:`top_history_columns`.
    """
    b = history.shape[0]
    items = np.full((b, length), pad, np.int64)
    weights = np.zeros((b, length), np.float32)
    for r in range(b):
        lo, hi = history.indptr[r], history.indptr[r + 1]
        idx, w = history.indices[lo:hi], history.data[lo:hi]
        order = np.lexsort((idx, -w))[:length]
        items[r, : len(order)] = idx[order]
        weights[r, : len(order)] = w[order]
    return items, weights


def latest_sequence(history: sp.csr_matrix, length: int, pad: int) -> np.ndarray:
    """Each row's last ``length`` items in weight order (oldest first), left-padded with ``pad``.

    Sequential models store a user's time order as weights 1..n (see
    :func:`shoprec.models.neural.sequential.ordered_history`), so sorting by weight
    recovers the sequence from a :class:`scoring.UserBlock`.
    """
    b = history.shape[0]
    out = np.full((b, length), pad, np.int64)
    for r in range(b):
        lo, hi = history.indptr[r], history.indptr[r + 1]
        idx, w = history.indices[lo:hi], history.data[lo:hi]
        seq = idx[np.lexsort((idx, w))][-length:]
        if len(seq):
            out[r, length - len(seq) :] = seq
    return out


def sampled_softmax_loss(
    query: torch.Tensor,
    positives: torch.Tensor,
    table: torch.Tensor,
    *,
    negatives: int,
    gen: torch.Generator,
) -> torch.Tensor:
    """Cross-entropy of each query's positive against ``negatives`` shared uniform samples.

    With ``negatives`` 0 or at least the catalogue size this is the full softmax.
    Uniform samples need no logQ correction (it is the same constant for every item);
    a sample equal to a row's positive is masked out of that row.
    """
    n_items = table.shape[0]
    if negatives <= 0 or negatives >= n_items:
        return TF.cross_entropy(query @ table.T, positives)
    neg = torch.randint(0, n_items, (negatives,), generator=gen).to(query.device)
    pos_logit = (query * table[positives]).sum(-1, keepdim=True)
    neg_logits = (query @ table[neg].T).masked_fill(neg[None, :] == positives[:, None], -1e9)
    logits = torch.cat([pos_logit, neg_logits], dim=1)
    target = torch.zeros(len(query), dtype=torch.long, device=query.device)
    return TF.cross_entropy(logits, target)


class NeuralRecommender(Recommender):
    """Base of the PyTorch recommenders: training settings, fit, save and load.

    ``workers`` 0 or 1 trains in the driver process; N >= 2 trains on N Horovod ranks
    on the executors (``backend="horovod"`` also for N = 1). ``checkpoint_dir`` (a
    folder every rank's host can reach) makes a failed fit resumable at the last
    completed epoch; ``cache_dir`` is where Petastorm materialises the examples
    (a temporary folder when None; on a cluster, a shared path such as under the lake).
    """

    name = "neural"

    def __init__(
        self,
        *,
        dim: int = 64,
        epochs: int = 10,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        seed: int = 42,
        workers: int = 0,
        backend: str = "auto",
        threads: int | None = 1,
        checkpoint_dir: str | None = None,
        cache_dir: str | None = None,
        block_size: int = scoring.DEFAULT_BLOCK_SIZE,
        partitions: int | None = None,
    ) -> None:
        super().__init__(block_size=block_size, partitions=partitions)
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self.train_config = TrainConfig(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            seed=seed,
            workers=workers,
            backend=backend,
            threads=threads,
            checkpoint_dir=checkpoint_dir,
            cache_dir=cache_dir,
        )
        self.net: nn.Module | None = None
        self.item_vectors: np.ndarray | None = None
        self.train_result: TrainResult | None = None
        self._net_kwargs: dict[str, Any] = {}

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _net_class(self) -> type[nn.Module]:
        """The network class (module level, so Horovod ranks can import it)."""

    @abstractmethod
    def _prepare(self, train: DataFrame, n_items: int) -> DataFrame:
        """Set ``_net_kwargs`` from ``train`` and return the training examples."""

    @abstractmethod
    def _model_params(self) -> dict[str, Any]:
        """The subclass's own hyperparameters (its constructor's keyword arguments)."""

    def _fitted(self, net: nn.Module) -> None:
        """Derive the item-side state from the trained ``net``."""
        encode: Callable[[], torch.Tensor] = net.item_vectors  # type: ignore[assignment]
        with torch.no_grad():
            self.item_vectors = encode().float().numpy().copy()
        self.net = net

    # ------------------------------------------------------------------ fitting
    def fit(self, train: DataFrame, *, n_items: int) -> Self:
        """Build examples in Spark, train the network, keep the item side on the driver."""
        self._start_fit(train, n_items)
        self.net = None
        build, examples = self.prepare_training(train, n_items=n_items)
        # checkpoints may live on the lake's object store: reach it as Spark does
        cfg = dataclasses.replace(
            self.train_config, storage=StorageOptions.from_spark(train.sparkSession)
        )
        result = training.train(build, examples, cfg, signature=self._signature())
        torch.manual_seed(self.train_config.seed)
        net = build()
        net.load_state_dict(result.state)
        net.eval()
        self.train_result = result
        self._fitted(net)
        return self

    def prepare_training(self, train: DataFrame, *, n_items: int) -> tuple[NetFactory, DataFrame]:
        """The network factory and the (lazy) training examples ``fit`` would use.

        For callers that drive :func:`shoprec.training.train` themselves, such as the
        training benchmark; ``fit`` is this plus training and the item-side state.
        """
        examples = self._prepare(train, n_items)
        return partial(self._net_class(), **self._net_kwargs), examples

    def _signature(self) -> str:
        """What a resumable checkpoint must match: model, hyperparameters, shapes."""
        params = {k: v for k, v in self.params().items() if k not in _RESUMABLE_CHANGES}
        shapes = {
            k: list(v.shape) if isinstance(v, np.ndarray) else v
            for k, v in self._net_kwargs.items()
        }
        text = json.dumps({"params": params, "net": shapes}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def params(self) -> dict[str, Any]:
        """Model name, hyperparameters and training settings (no paths)."""
        c = self.train_config
        return {
            "model": self.name,
            "dim": self.dim,
            **self._model_params(),
            "epochs": c.epochs,
            "batch_size": c.batch_size,
            "lr": c.lr,
            "weight_decay": c.weight_decay,
            "seed": c.seed,
            "workers": c.workers,
            "backend": c.backend,
            "threads": c.threads,
        }

    def _item_side(self) -> Any:
        assert self.item_vectors is not None, "not fitted"
        return NetSide(self.net, self.item_vectors, self._history_length())

    def _history_length(self) -> int:
        """How many history items the scorer passes the network per user (0: none)."""
        return 0

    def similar_items(self, k: int) -> DataFrame:
        """Each item's top-``k`` items by positive cosine of the learned item vectors."""
        return self._similar(k, cosine_rows)

    # ------------------------------------------------------------- persistence
    def save(self, path: PathLike) -> None:
        """Write meta.json, item vectors, the network (state and config) and histories."""
        assert self.item_vectors is not None, "not fitted"
        folder = self._save_common(path, {ITEM_VECTORS: self.item_vectors})
        if self.net is not None:
            buf = io.BytesIO()
            torch.save(self.net.state_dict(), buf)
            folder.write_bytes(NET_FILE, buf.getvalue())
            scalars = {}
            for key, value in self._net_kwargs.items():
                if isinstance(value, np.ndarray):
                    folder.write_array(f"net_{key}", value)
                else:
                    scalars[key] = value
            folder.write_json(NET_CONFIG_FILE, scalars)

    @classmethod
    def load(cls, path: PathLike) -> Self:
        """Read a model written by :meth:`save` (needs an active SparkSession)."""
        folder, meta = cls._read_meta(path)
        params = {k: v for k, v in meta["params"].items() if k != "model"}
        model = cls(**params)
        model._load_common(folder, meta)
        model.item_vectors = load_array(folder, ITEM_VECTORS)
        if folder.exists(NET_FILE):
            model._net_kwargs = _load_net_kwargs(folder)
            net = model._net_class()(**model._net_kwargs)
            state = torch.load(io.BytesIO(folder.read_bytes(NET_FILE)), map_location="cpu")
            net.load_state_dict(state)
            net.eval()
            model.net = net
        return model


def _load_net_kwargs(folder: ModelFolder) -> dict[str, Any]:
    kwargs: dict[str, Any] = folder.read_json(NET_CONFIG_FILE)
    for name in folder.names():
        if name.startswith("net_") and name.endswith(".npy"):
            key = name.removesuffix(".npy")
            kwargs[key.removeprefix("net_")] = folder.array(key)
    return kwargs
