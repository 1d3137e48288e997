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

import copy
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
from pyspark.sql import functions as F
from torch import nn
from torch.nn import functional as TF

from shoprec import schemas as S
from shoprec import training
from shoprec.evaluation.metrics import ndcg_of_lists
from shoprec.evaluation.split import holdout
from shoprec.lake import StorageOptions
from shoprec.models import scoring
from shoprec.models.base import ModelFolder, PathLike, Recommender, load_array
from shoprec.training import NetFactory, TrainConfig, TrainResult

NET_FILE = "net.pt"
NET_CONFIG_FILE = "net.json"
ITEM_VECTORS = "item_vectors"
# Settings a resumed run may change: how it runs, and how many epochs it goes to
# (a run stopped after epoch 1 of 10 is resumed by the same call with epochs=10).
_RESUMABLE_CHANGES = frozenset(
    {"workers", "backend", "threads", "epochs", "patience", "max_train_seconds"}
)
# Early stopping scores NDCG@VALIDATION_K over at most VALIDATION_USERS held-out users
# (a seeded sample), VALIDATION_BLOCK of them per product.
VALIDATION_K = 20
VALIDATION_USERS = 5_000
VALIDATION_BLOCK = 1_024


@dataclass(frozen=True)
class NetSide:
    """What a history-encoding model broadcasts: its network and the item vectors."""

    net: nn.Module | None  # eval mode, CPU; None for models scored from user vectors
    items: np.ndarray  # (n_items, dim) float32
    length: int = 0  # history items (or sequence positions) the network reads per user


# (network, validation users' block, history length) -> what the score function reads
SideFn = Callable[[nn.Module, scoring.UserBlock, int], tuple[NetSide, scoring.UserBlock]]


def executor_torch() -> None:
    """One torch thread per Spark task: the executor already runs a task per core."""
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


@dataclass(frozen=True)
class NetValidator:
    """NDCG@k of a network's lists for held-out items, scored as serving scores them.

    The same score function as :meth:`NeuralRecommender.recommend` (on the driver, or on
    Horovod's rank 0), over the validation users' training histories, with the items
    they trained on excluded. Picklable: Horovod ships it to rank 0.
    """

    score_fn: scoring.ScoreFn
    side_fn: SideFn
    block: scoring.UserBlock  # validation users and their training histories
    truth: sp.csr_matrix  # their held-out items, row for row
    length: int
    k: int = VALIDATION_K

    def __call__(self, net: nn.Module) -> float:
        threads = torch.get_num_threads()  # the score functions set one thread
        try:
            on_cpu = all(p.device.type == "cpu" for p in net.parameters())
            model = net if on_cpu else copy.deepcopy(net).cpu()
            side, block = self.side_fn(model, self.block, self.length)
            n = len(block.user_idx)
            top = np.full((n, self.k), -1, np.int64)
            for start in range(0, n, VALIDATION_BLOCK):
                rows = slice(start, start + VALIDATION_BLOCK)
                part = scoring.UserBlock(
                    block.user_idx[rows],
                    block.history[rows],
                    None if block.features is None else block.features[rows],
                )
                scores = np.array(self.score_fn(part, side), dtype=np.float32)
                seen_rows, seen_items = part.history.nonzero()
                scores[seen_rows, seen_items] = -np.inf
                r, c, _, rank = scoring.topk_rows(scores, self.k)
                top[start + r, rank - 1] = c
            return ndcg_of_lists(top, self.truth, self.k)
        finally:
            torch.set_num_threads(threads)


def net_side(
    net: nn.Module, block: scoring.UserBlock, length: int
) -> tuple[NetSide, scoring.UserBlock]:
    """What a history-encoding model's score function reads: the net and its item vectors."""
    encode: Callable[[], torch.Tensor] = net.item_vectors  # type: ignore[assignment]
    return NetSide(net, encode().float().numpy(), length), block


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
        patience: int = 0,
        validation_share: float = 0.1,
        max_train_seconds: float | None = None,
        block_size: int = scoring.DEFAULT_BLOCK_SIZE,
        partitions: int | None = None,
    ) -> None:
        super().__init__(block_size=block_size, partitions=partitions)
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        if not 0.0 < validation_share < 1.0:
            raise ValueError(f"validation_share must be in (0, 1), got {validation_share}")
        self.dim = dim
        self.validation_share = validation_share
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
            patience=patience,
            max_seconds=max_train_seconds,
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

    def _histories(self, train: DataFrame) -> DataFrame:
        """The per-user histories the score function reads (:func:`scoring.user_histories`)."""
        return scoring.user_histories(train)

    score_fn: scoring.ScoreFn  # set by each model: its scoring function
    side_fn: SideFn = staticmethod(net_side)

    def _fitted(self, net: nn.Module) -> None:
        """Derive the item-side state from the trained ``net``."""
        encode: Callable[[], torch.Tensor] = net.item_vectors  # type: ignore[assignment]
        with torch.no_grad():
            self.item_vectors = encode().float().numpy().copy()
        self.net = net

    # ------------------------------------------------------------------ fitting
    def fit(self, train: DataFrame, *, n_items: int, validation: DataFrame | None = None) -> Self:
        """Build examples in Spark, train the network, keep the item side on the driver.

        With ``patience`` > 0 training stops early on NDCG@20 of held-out items:
        ``validation`` (``user_idx``, ``item_idx`` pairs of users in ``train``) when
        given, otherwise a ``validation_share`` of each user's items held back from the
        network's training (:func:`~shoprec.evaluation.split.holdout`). Either way the
        users' full ``train`` histories are what serving reads afterwards.
        """
        self._start_fit(train, n_items)
        self.net = None
        learn, held = train, validation
        if held is None and self.train_config.patience > 0:
            learn, held = holdout(train, share=self.validation_share, seed=self.train_config.seed)
        build, examples = self.prepare_training(learn, n_items=n_items)
        validate = None if held is None else self._validator(learn, held, n_items)
        # checkpoints may live on the lake's object store: reach it as Spark does
        cfg = dataclasses.replace(
            self.train_config, storage=StorageOptions.from_spark(train.sparkSession)
        )
        result = training.train(
            build, examples, cfg, signature=self._signature(), validate=validate
        )
        torch.manual_seed(self.train_config.seed)
        net = build()
        net.load_state_dict(result.state)
        net.eval()
        self.train_result = result
        self._history = self._histories(train)
        self._fitted(net)
        return self

    def _validator(self, learn: DataFrame, held: DataFrame, n_items: int) -> NetValidator:
        """The validation users (a seeded sample), their ``learn`` histories and held items."""
        seed = self.train_config.seed
        truth_lists = (
            held.groupBy(F.col(S.USER_IDX).cast("long").alias(S.USER_IDX))
            .agg(F.collect_set(F.col(S.ITEM_IDX).cast("long")).alias("_held"))
            .orderBy(F.xxhash64(S.USER_IDX, F.lit(seed)), S.USER_IDX)
            .limit(VALIDATION_USERS)
        )
        rows = scoring.scoring_input(
            truth_lists.select(S.USER_IDX),
            self._histories(learn),
        ).join(truth_lists, S.USER_IDX)
        part = scoring.collect_pandas(rows).sort_values(S.USER_IDX, ignore_index=True)
        if part.empty:
            raise ValueError("no validation users: the held-out items' users have no history")
        block = scoring.to_user_block(part, n_items)
        held_rows, held_items = scoring.ragged(part["_held"].to_numpy(), np.int64)
        ok = (held_items >= 0) & (held_items < n_items)
        truth = sp.csr_matrix(
            (np.ones(int(ok.sum()), np.float32), (held_rows[ok], held_items[ok])),
            shape=(len(part), n_items),
        )
        return NetValidator(
            type(self).score_fn, type(self).side_fn, block, truth, self._history_length()
        )

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
            "patience": c.patience,
            "validation_share": self.validation_share,
            "max_train_seconds": c.max_seconds,
        }

    def recommend(
        self,
        users: DataFrame,
        k: int,
        *,
        exclude: DataFrame | None = None,
        exclude_seen: bool = True,
    ) -> DataFrame:
        """Each user's vector from its history (in the executors) against the item vectors,
        through the model's :attr:`score_fn` (users without a training history get none)."""
        return self._recommend(
            users, k, type(self).score_fn, exclude=exclude, exclude_seen=exclude_seen
        )

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
