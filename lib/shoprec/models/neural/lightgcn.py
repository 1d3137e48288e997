"""LightGCN: embeddings smoothed over the user-item graph, trained with BPR.

He et al. (SIGIR 2020): no feature transforms or non-linearities, only ``layers``
rounds of propagation over the symmetrically normalised adjacency
``D^-1/2 A D^-1/2`` of the bipartite graph (a torch sparse matrix), averaged with
the input embeddings. Each training step propagates the whole graph, so every rank
holds every edge: the graph is collected on the driver once (two int64 columns, as
long as ``train``) and shipped with the network factory. Edges are unweighted, as in
the paper; the negative of each (user, item) pair is drawn uniformly.

After training, the propagated item vectors are broadcast and the propagated user
vectors become a ``user_idx, features`` DataFrame, scored like ALS's user factors.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from torch import nn
from torch.nn import functional as TF

from shoprec import schemas as S
from shoprec.models import scoring
from shoprec.models.base import PathLike, active_spark
from shoprec.models.neural._base import NetSide, NeuralRecommender
from shoprec.models.scoring import FEATURES
from shoprec.training.data import Batch

USER = "user"
ITEM = "item"
USER_VECTORS_DIR = "user_vectors"


def normalized_adjacency(
    users: np.ndarray, items: np.ndarray, n_users: int, n_items: int
) -> torch.Tensor:
    """``D^-1/2 A D^-1/2`` of the user-item graph (users first, then items), sparse CSR.

    CSR, because a product with it reads each row once (COO's took 3-4x longer on
    the public-size graph); the matrix is symmetric, which :func:`propagate_once`
    uses for its gradient.
    """
    u = torch.as_tensor(users, dtype=torch.long)
    i = torch.as_tensor(items, dtype=torch.long) + n_users
    rows, cols = torch.cat([u, i]), torch.cat([i, u])
    n = n_users + n_items
    degree = torch.bincount(rows, minlength=n).float()
    inv_sqrt = degree.clamp(min=1.0).pow(-0.5)
    values = inv_sqrt[rows] * inv_sqrt[cols]
    coo = torch.sparse_coo_tensor(
        torch.stack([rows, cols]), values, (n, n), check_invariants=True
    ).coalesce()
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        return coo.to_sparse_csr()


class _SymmetricProduct(torch.autograd.Function):
    """``graph @ x`` for a constant symmetric ``graph``: the gradient is ``graph @ grad``.

    torch's own backward of a sparse product transposes the matrix on every step,
    which cost as much as the product itself.
    """

    @staticmethod
    def forward(ctx: Any, graph: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.graph = graph
        return graph @ x

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
        return None, ctx.graph @ grad


def propagate_once(graph: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """One LightGCN layer, ``graph @ x``, for the symmetric normalised adjacency."""
    out: torch.Tensor = _SymmetricProduct.apply(graph, x)
    return out


class LightGCNNet(nn.Module):
    """Input embeddings for users and items; the graph is a plain attribute, not state."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int,
        layers: int,
        reg: float,
        edge_users: np.ndarray,
        edge_items: np.ndarray,
    ) -> None:
        super().__init__()
        self.n_users, self.n_items, self.layers, self.reg = n_users, n_items, layers, reg
        self.emb = nn.Embedding(n_users + n_items, dim)
        nn.init.normal_(self.emb.weight, std=0.1)
        self.graph = normalized_adjacency(edge_users, edge_items, n_users, n_items)

    def propagate(self) -> torch.Tensor:
        """Mean of the embeddings after 0..layers propagation rounds, ``(users + items, dim)``."""
        graph = self.graph
        x = self.emb.weight
        if graph.device != x.device:
            graph = self.graph = graph.to(x.device)
        out = [x]
        for _ in range(self.layers):
            x = propagate_once(graph, x)
            out.append(x)
        return torch.stack(out).mean(0)

    def user_vectors(self) -> torch.Tensor:
        return self.propagate()[: self.n_users]

    def item_vectors(self) -> torch.Tensor:
        return self.propagate()[self.n_users :]

    def loss(self, batch: Batch, gen: torch.Generator) -> torch.Tensor:
        """BPR over (user, item, uniform negative), L2 on the input embeddings used."""
        u = batch[USER].long()
        i = batch[ITEM].long() + self.n_users
        j = torch.randint(0, self.n_items, (len(u),), generator=gen).to(u.device) + self.n_users
        final = self.propagate()
        pos = (final[u] * final[i]).sum(-1)
        neg = (final[u] * final[j]).sum(-1)
        e0 = self.emb.weight
        l2 = (e0[u].pow(2).sum() + e0[i].pow(2).sum() + e0[j].pow(2).sum()) / (2 * len(u))
        return -TF.logsigmoid(pos - neg).mean() + self.reg * l2


def _lightgcn_scores(block: scoring.UserBlock, side: NetSide) -> np.ndarray:
    assert block.features is not None
    out: np.ndarray = block.features @ side.items.T
    return out


def _propagated_side(
    net: nn.Module, block: scoring.UserBlock, length: int
) -> tuple[NetSide, scoring.UserBlock]:
    """The propagated item vectors, and the block's users' propagated vectors as features."""
    gcn: LightGCNNet = net  # type: ignore[assignment]
    final = gcn.propagate().float().numpy()
    users = final[block.user_idx]
    return NetSide(None, final[gcn.n_users :]), dataclasses.replace(block, features=users)


class LightGCN(NeuralRecommender):
    """LightGCN with BPR; users need a training edge to get recommendations.

    ``batch_size`` is larger by default than for the other models: each step
    propagates the whole graph, so bigger batches amortise it.

    Example::

        LightGCN(dim=64, layers=3, epochs=50).fit(train, n_items=n).recommend(users, 20)
    """

    name = "lightgcn"

    def __init__(
        self, *, layers: int = 3, reg: float = 1e-4, batch_size: int = 2048, **kwargs: Any
    ) -> None:
        super().__init__(batch_size=batch_size, **kwargs)
        if layers < 0 or reg < 0:
            raise ValueError(f"layers and reg must be >= 0, got {layers}, {reg}")
        self.layers = layers
        self.reg = reg
        self.user_vectors: DataFrame | None = None

    score_fn = staticmethod(_lightgcn_scores)
    side_fn = staticmethod(_propagated_side)

    def _net_class(self) -> type[nn.Module]:
        return LightGCNNet

    def _model_params(self) -> dict[str, Any]:
        return {"layers": self.layers, "reg": self.reg}

    def _prepare(self, train: DataFrame, n_items: int) -> DataFrame:
        pairs = train.select(
            F.col(S.USER_IDX).cast("long").alias(USER), F.col(S.ITEM_IDX).cast("long").alias(ITEM)
        )
        edges = scoring.collect_pandas(pairs)
        users = edges[USER].to_numpy(np.int64)
        items = edges[ITEM].to_numpy(np.int64)
        self._net_kwargs = {
            "n_users": int(users.max()) + 1,
            "n_items": n_items,
            "dim": self.dim,
            "layers": self.layers,
            "reg": self.reg,
            "edge_users": users,
            "edge_items": items,
        }
        return pairs

    def _fitted(self, net: nn.Module) -> None:
        gcn: LightGCNNet = net  # type: ignore[assignment]
        with torch.no_grad():
            final = gcn.propagate().numpy()
        self.item_vectors = final[gcn.n_users :].astype(np.float32).copy()
        known = np.unique(self._net_kwargs["edge_users"])
        vectors = pd.DataFrame({S.USER_IDX: known, FEATURES: list(final[known].astype(np.float32))})
        schema = f"{S.USER_IDX} long, {FEATURES} array<float>"
        self.user_vectors = active_spark().createDataFrame(vectors, schema)
        self.net = None  # scoring needs only the vectors; the graph stays out of broadcasts
        self._net_kwargs = {}

    def recommend(
        self,
        users: DataFrame,
        k: int,
        *,
        exclude: DataFrame | None = None,
        exclude_seen: bool = True,
    ) -> DataFrame:
        """Dot product of propagated user and item vectors (users seen in training only)."""
        if self.user_vectors is None:
            raise RuntimeError("LightGCN is not fitted; call fit() or load()")
        return self._recommend(
            users,
            k,
            type(self).score_fn,
            exclude=exclude,
            exclude_seen=exclude_seen,
            require_history=False,
            user_vectors=self.user_vectors,
        )

    def save(self, path: PathLike) -> None:
        """Write item vectors (.npy), user vectors (Parquet), meta.json and histories."""
        assert self.user_vectors is not None, "not fitted"
        super().save(path)
        folder = self._read_meta(path)[0]
        self.user_vectors.write.mode("overwrite").parquet(folder.path(USER_VECTORS_DIR))

    @classmethod
    def load(cls, path: PathLike) -> Self:
        """Read a saved :class:`LightGCN` (vectors only; it cannot be trained further)."""
        model = super().load(path)
        folder = model._read_meta(path)[0]
        model.user_vectors = active_spark().read.parquet(folder.path(USER_VECTORS_DIR))
        return model
