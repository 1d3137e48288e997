"""Two-tower retrieval: a user tower over the user's heaviest items, an item tower over ids.

The user tower is a weighted mean of the user's ``max_history`` heaviest items'
embeddings followed by a residual MLP; since it is a function of the history, new
interactions change a user's vector without retraining, and the executors compute it
from the history at scoring time. The item tower embeds the item id, plus its
category and price band when ``item_features`` is given, through its own residual
MLP. Both outputs are L2-normalised and scored by cosine / ``temperature``.

Training uses in-batch negatives: every other positive in the batch is a negative.
Popular items are over-represented as in-batch negatives, so logits are corrected by
``log q(item)``, the item's share of training pairs (Yi et al., RecSys 2019), and an
item that is the positive of two rows is not a negative for either. The target item
is left out of its own history bag, so the tower learns to predict, not to copy.
"""

from __future__ import annotations

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
from shoprec.models.neural._base import NetSide, NeuralRecommender, executor_torch, top_weighted
from shoprec.training.data import Batch

HIST = "hist"
HIST_W = "hist_w"
ITEM = "item"
PRICE_BAND = "price_band"


def _residual_mlp(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))


class TwoTowerNet(nn.Module):
    """User tower (weighted bag of history items) and item tower (id and side features).

    ``item_category``/``item_band`` are per-item codes (0 = unknown), or None.
    """

    def __init__(
        self,
        n_items: int,
        dim: int,
        temperature: float,
        log_q: np.ndarray,
        item_category: np.ndarray | None = None,
        item_band: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.n_items = n_items
        self.temperature = temperature
        self.history_emb = nn.Embedding(n_items + 1, dim, padding_idx=n_items)
        self.user_mlp = _residual_mlp(dim)
        self.item_emb = nn.Embedding(n_items, dim)
        self.item_mlp = _residual_mlp(dim)
        for emb in (self.history_emb, self.item_emb):
            nn.init.normal_(emb.weight, std=0.1)
        with torch.no_grad():
            self.history_emb.weight[n_items].zero_()
        self.log_q: torch.Tensor
        self.register_buffer("log_q", torch.as_tensor(log_q, dtype=torch.float32))
        self.category_emb: nn.Embedding | None = None
        self.band_emb: nn.Embedding | None = None
        self.item_category: torch.Tensor | None
        self.item_band: torch.Tensor | None
        category = band = None
        if item_category is not None:
            category = torch.as_tensor(item_category, dtype=torch.long)
            self.category_emb = nn.Embedding(int(category.max()) + 1, dim)
        if item_band is not None:
            band = torch.as_tensor(item_band, dtype=torch.long)
            self.band_emb = nn.Embedding(int(band.max()) + 1, dim)
        self.register_buffer("item_category", category)
        self.register_buffer("item_band", band)

    def users(self, hist: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Unit user vectors from ``(b, L)`` history items and weights (0 for padding)."""
        w = weights.clamp(min=0.0).unsqueeze(-1)
        bag = (self.history_emb(hist) * w).sum(1) / w.sum(1).clamp(min=1e-6)
        return TF.normalize(bag + self.user_mlp(bag), dim=-1)

    def items(self, idx: torch.Tensor) -> torch.Tensor:
        """Unit item vectors of ``idx``."""
        x = self.item_emb(idx)
        if self.category_emb is not None and self.item_category is not None:
            x = x + self.category_emb(self.item_category[idx])
        if self.band_emb is not None and self.item_band is not None:
            x = x + self.band_emb(self.item_band[idx])
        return TF.normalize(x + self.item_mlp(x), dim=-1)

    def item_vectors(self) -> torch.Tensor:
        """All items' vectors, scaled by 1/temperature so a dot product is the logit."""
        return self.items(torch.arange(self.n_items, device=self.item_emb.weight.device)) / (
            self.temperature
        )

    def loss(self, batch: Batch, gen: torch.Generator) -> torch.Tensor:
        """In-batch softmax with logQ correction; the target is masked from its own bag."""
        pos = batch[ITEM].long()
        hist = batch[HIST].long()
        weights = batch[HIST_W].float().masked_fill(hist == pos[:, None], 0.0)
        u = self.users(hist, weights)
        v = self.items(pos)
        logits = u @ v.T / self.temperature - self.log_q[pos][None, :]
        same = (pos[:, None] == pos[None, :]) & ~torch.eye(
            len(pos), dtype=torch.bool, device=pos.device
        )
        logits = logits.masked_fill(same, -1e9)
        return TF.cross_entropy(logits, torch.arange(len(pos), device=pos.device))


def _pad(col: F.Column | str, length: int, value: Any, dtype: str) -> F.Column:
    c = F.col(col) if isinstance(col, str) else col
    filler = F.array_repeat(
        F.lit(value).cast(dtype), F.greatest(F.lit(length) - F.size(c), F.lit(0))
    )
    return F.concat(c.cast(f"array<{dtype}>"), filler)


def top_history_columns(train: DataFrame, *, length: int, pad: int) -> DataFrame:
    """Per user: ``hist`` (heaviest ``length`` items, ties lower first) and ``hist_w``.

    Right-padded with ``pad`` and 0.0 to exactly ``length`` (Petastorm needs fixed
    widths); the order matches :func:`~shoprec.models.neural._base.top_weighted`.
    """
    pairs = F.sort_array(
        F.collect_list(
            F.struct(
                (-F.col(S.WEIGHT)).alias("k"),
                F.col(S.ITEM_IDX).cast("long").alias("i"),
                F.col(S.WEIGHT).cast("float").alias("w"),
            )
        )
    )
    top = train.groupBy(S.USER_IDX).agg(F.slice(pairs, 1, length).alias("h"))
    return top.select(
        S.USER_IDX,
        _pad(F.col("h.i"), length, pad, "long").alias(HIST),
        _pad(F.col("h.w"), length, 0.0, "float").alias(HIST_W),
    )


def item_codes(item_features: DataFrame, n_items: int, column: str) -> np.ndarray:
    """Dense codes 1..c of ``column`` per item (0: unknown item or null value)."""
    pdf = scoring.collect_pandas(item_features.select(S.ITEM_IDX, column))
    pdf = pdf[(pdf[S.ITEM_IDX] >= 0) & (pdf[S.ITEM_IDX] < n_items)]
    codes, _ = pd.factorize(pdf[column], sort=True)
    out = np.zeros(n_items, np.int64)
    out[pdf[S.ITEM_IDX].to_numpy(np.int64)] = codes + 1  # factorize gives -1 for null
    return out


def _two_tower_scores(block: scoring.UserBlock, side: NetSide) -> np.ndarray:
    executor_torch()
    assert side.net is not None
    net: TwoTowerNet = side.net  # type: ignore[assignment]
    hist, weights = top_weighted(block.history, side.length, net.n_items)
    with torch.no_grad():
        users = net.users(torch.from_numpy(hist), torch.from_numpy(weights)).numpy()
    out: np.ndarray = users @ side.items.T
    return out


class TwoTower(NeuralRecommender):
    """Two-tower retrieval model with in-batch negatives and logQ correction.

    ``item_features`` (``item_idx`` and the columns named by ``category_col`` and
    ``price_band_col``; any value type, nulls allowed) adds side features to the item
    tower; given to the constructor or to :meth:`fit`. Without it the item tower is
    the item id alone.

    Example::

        model = TwoTower(dim=64, epochs=10, workers=2).fit(train, n_items=n)
        recs = model.recommend(users, 20)
    """

    name = "twotower"

    def __init__(
        self,
        *,
        max_history: int = 50,
        temperature: float = 0.1,
        item_features: DataFrame | None = None,
        category_col: str = "category_l1",
        price_band_col: str = PRICE_BAND,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if max_history < 1:
            raise ValueError(f"max_history must be >= 1, got {max_history}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.max_history = max_history
        self.temperature = temperature
        self.item_features = item_features
        self.category_col = category_col
        self.price_band_col = price_band_col

    def _net_class(self) -> type[nn.Module]:
        return TwoTowerNet

    def _model_params(self) -> dict[str, Any]:
        return {
            "max_history": self.max_history,
            "temperature": self.temperature,
            "category_col": self.category_col,
            "price_band_col": self.price_band_col,
        }

    def fit(
        self,
        train: DataFrame,
        *,
        n_items: int,
        validation: DataFrame | None = None,
        item_features: DataFrame | None = None,
    ) -> Self:
        """Fit; ``item_features`` here replaces the constructor's."""
        if item_features is not None:
            self.item_features = item_features
        return super().fit(train, n_items=n_items, validation=validation)

    score_fn = staticmethod(_two_tower_scores)

    def _prepare(self, train: DataFrame, n_items: int) -> DataFrame:
        counts = scoring.collect_pandas(train.groupBy(S.ITEM_IDX).count())
        freq = np.zeros(n_items, np.float64)
        freq[counts[S.ITEM_IDX].to_numpy(np.int64)] = counts["count"].to_numpy(np.float64)
        log_q = np.log((freq + 1.0) / (freq.sum() + n_items)).astype(np.float32)
        kwargs: dict[str, Any] = {
            "n_items": n_items,
            "dim": self.dim,
            "temperature": self.temperature,
            "log_q": log_q,
        }
        if self.item_features is not None:
            cols = set(self.item_features.columns)
            if self.category_col in cols:
                kwargs["item_category"] = item_codes(self.item_features, n_items, self.category_col)
            if self.price_band_col in cols:
                kwargs["item_band"] = item_codes(self.item_features, n_items, self.price_band_col)
            if len(kwargs) == 4:
                raise ValueError(
                    f"item_features has neither {self.category_col!r} nor {self.price_band_col!r}"
                )
        self._net_kwargs = kwargs
        hist = top_history_columns(train, length=self.max_history, pad=n_items)
        return (
            train.select(S.USER_IDX, F.col(S.ITEM_IDX).cast("long").alias(ITEM))
            .join(hist, S.USER_IDX)
            .select(ITEM, HIST, HIST_W)
        )

    def _history_length(self) -> int:
        return self.max_history
