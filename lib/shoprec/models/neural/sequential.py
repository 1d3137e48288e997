"""Next-item models over each user's time-ordered items: GRU4Rec-style and SASRec-style.

A user's items are ordered by ``last_ts`` (the time of their last interaction with
the item) when ``train`` has that column, else by weight (decayed weights grow with
recency and repetition), ties by item. Training takes each user's latest
``max_len + 1`` items and predicts every position from the ones before it; the loss
is a softmax over the positive and ``negatives`` uniformly sampled items (the full
catalogue when that is smaller), with output embeddings tied to the input ones.

For scoring, the model's history stores each item's position in the user's order as
its weight (1 = oldest), so the executors rebuild the sequence from the standard
:class:`~shoprec.models.scoring.UserBlock`, run the network, and take the last
position's state as the user vector.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from torch import nn

from shoprec import schemas as S
from shoprec.models import scoring
from shoprec.models.neural._base import (
    NetSide,
    NeuralRecommender,
    executor_torch,
    latest_sequence,
    sampled_softmax_loss,
)
from shoprec.training.data import Batch

SEQ = "seq"


class SequenceNet(nn.Module):
    """Shared parts: item embeddings (row ``n_items`` is padding) and the training loss."""

    def __init__(self, n_items: int, dim: int, max_len: int, negatives: int) -> None:
        super().__init__()
        self.n_items = n_items
        self.max_len = max_len
        self.negatives = negatives
        self.item_emb = nn.Embedding(n_items + 1, dim, padding_idx=n_items)
        nn.init.normal_(self.item_emb.weight, std=0.1)
        with torch.no_grad():
            self.item_emb.weight[n_items].zero_()

    def encode(self, seq: torch.Tensor) -> torch.Tensor:
        """``(b, L)`` left-padded item sequences to ``(b, L, dim)`` states."""
        raise NotImplementedError

    def users(self, seq: torch.Tensor) -> torch.Tensor:
        """User vectors: the state after the last (most recent) position."""
        return self.encode(seq)[:, -1]

    def item_vectors(self) -> torch.Tensor:
        """Output item embeddings (tied to the input ones)."""
        return self.item_emb.weight[: self.n_items]

    def loss(self, batch: Batch, gen: torch.Generator) -> torch.Tensor:
        """Next-item sampled softmax over every real position of every sequence."""
        seq = batch[SEQ].long()
        inputs, targets = seq[:, :-1], seq[:, 1:]
        states = self.encode(inputs)
        valid = (targets != self.n_items) & (inputs != self.n_items)
        return sampled_softmax_loss(
            states[valid],
            targets[valid],
            self.item_vectors(),
            negatives=self.negatives,
            gen=gen,
        )


class GRU4RecNet(SequenceNet):
    """Embedding, dropout, one or more GRU layers (Hidasi et al., ICLR 2016)."""

    def __init__(
        self, n_items: int, dim: int, max_len: int, negatives: int, layers: int, dropout: float
    ) -> None:
        super().__init__(n_items, dim, max_len, negatives)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(dim, dim, num_layers=layers, batch_first=True)

    def encode(self, seq: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.dropout(self.item_emb(seq)))
        result: torch.Tensor = out
        return result


class SASRecNet(SequenceNet):
    """Causal self-attention over item and position embeddings (Kang & McAuley, ICDM 2018).

    Padding positions are zeroed rather than masked as keys: with left padding a
    fully masked row would yield NaN, and zero vectors contribute nothing useful.
    """

    def __init__(
        self,
        n_items: int,
        dim: int,
        max_len: int,
        negatives: int,
        layers: int,
        heads: int,
        dropout: float,
    ) -> None:
        super().__init__(n_items, dim, max_len, negatives)
        self.pos_emb = nn.Embedding(max_len, dim)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=dim, dropout=dropout, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.scale = math.sqrt(dim)

    def encode(self, seq: torch.Tensor) -> torch.Tensor:
        length = seq.shape[1]
        positions = torch.arange(self.max_len - length, self.max_len, device=seq.device)
        keep = (seq != self.n_items).unsqueeze(-1).float()
        x = self.dropout(self.item_emb(seq) * self.scale + self.pos_emb(positions)) * keep
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=seq.device), 1)
        out: torch.Tensor = self.norm(self.blocks(x, mask=causal)) * keep
        return out


def order_key(train: DataFrame) -> list[F.Column]:
    """The columns that order a user's items: ``last_ts`` if present, weight, item."""
    keys = [F.col(S.LAST_TS)] if S.LAST_TS in train.columns else []
    return [*keys, F.col(S.WEIGHT), F.col(S.ITEM_IDX)]


def ordered_history(train: DataFrame) -> DataFrame:
    """:func:`scoring.user_histories` whose weights are positions in time order (1 = oldest)."""
    w = Window.partitionBy(S.USER_IDX).orderBy(*order_key(train))
    positions = train.select(
        S.USER_IDX, S.ITEM_IDX, F.row_number().over(w).cast("double").alias(S.WEIGHT)
    )
    return scoring.user_histories(positions)


def sequence_examples(train: DataFrame, *, length: int, pad: int) -> DataFrame:
    """One row per user with >= 2 items: ``seq``, their latest ``length`` items, left-padded."""
    key = [c.alias(f"k{i}") for i, c in enumerate(order_key(train))]
    items = F.sort_array(F.collect_list(F.struct(*key, F.col(S.ITEM_IDX).cast("long").alias("i"))))
    seqs = train.groupBy(S.USER_IDX).agg(items.getField("i").alias("s"))
    n = F.size("s")
    latest = F.slice("s", F.greatest(n - F.lit(length) + 1, F.lit(1)), length)
    filler = F.array_repeat(F.lit(pad).cast("long"), F.greatest(F.lit(length) - n, F.lit(0)))
    return seqs.where(n >= 2).select(F.concat(filler, latest).alias(SEQ))


def _sequence_scores(block: scoring.UserBlock, side: NetSide) -> np.ndarray:
    executor_torch()
    assert side.net is not None
    net: SequenceNet = side.net  # type: ignore[assignment]
    seq = latest_sequence(block.history, side.length, net.n_items)
    with torch.no_grad():
        users = net.users(torch.from_numpy(seq)).numpy()
    out: np.ndarray = users @ side.items.T
    return out


class _SequentialRecommender(NeuralRecommender):
    """Fit and scoring shared by the sequence models."""

    def __init__(
        self,
        *,
        max_len: int = 50,
        negatives: int = 256,
        layers: int = 1,
        dropout: float = 0.2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if max_len < 1 or layers < 1 or negatives < 0:
            raise ValueError(
                f"max_len and layers must be >= 1, negatives >= 0: {max_len}, {layers}, {negatives}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.max_len = max_len
        self.negatives = negatives
        self.layers = layers
        self.dropout = dropout
        # An example is a whole sequence, which predicts up to max_len positions:
        # ``batch_size`` counts predicted positions, as it counts pairs for the other
        # models, so a step sees about as many targets whatever the model. (Counted
        # in sequences, a 2,000-user shop got 4 steps an epoch and never left the
        # starting point.)
        self.batch_positions = self.train_config.batch_size
        self.train_config = dataclasses.replace(
            self.train_config, batch_size=max(1, self.batch_positions // max_len)
        )

    def params(self) -> dict[str, Any]:
        # the constructor's batch_size (positions), so cls(**params) rebuilds this model
        return {**super().params(), "batch_size": self.batch_positions}

    def _model_params(self) -> dict[str, Any]:
        return {
            "max_len": self.max_len,
            "negatives": self.negatives,
            "layers": self.layers,
            "dropout": self.dropout,
        }

    def _net_args(self, n_items: int) -> dict[str, Any]:
        return {
            "n_items": n_items,
            "dim": self.dim,
            "max_len": self.max_len,
            "negatives": self.negatives,
            "layers": self.layers,
            "dropout": self.dropout,
        }

    score_fn = staticmethod(_sequence_scores)

    def _histories(self, train: DataFrame) -> DataFrame:
        return ordered_history(train)

    def _prepare(self, train: DataFrame, n_items: int) -> DataFrame:
        self._net_kwargs = self._net_args(n_items)
        return sequence_examples(train, length=self.max_len + 1, pad=n_items)

    def _history_length(self) -> int:
        return self.max_len


class GRU4Rec(_SequentialRecommender):
    """GRU next-item model over each user's time-ordered items.

    Example::

        GRU4Rec(dim=64, max_len=50, epochs=20).fit(train_with_last_ts, n_items=n)
    """

    name = "gru4rec"

    def _net_class(self) -> type[nn.Module]:
        return GRU4RecNet


class SASRec(_SequentialRecommender):
    """Self-attentive next-item model (causal Transformer) over time-ordered items.

    Example::

        SASRec(dim=64, heads=2, layers=2, epochs=20).fit(train_with_last_ts, n_items=n)
    """

    name = "sasrec"

    def __init__(self, *, heads: int = 1, layers: int = 2, **kwargs: Any) -> None:
        super().__init__(layers=layers, **kwargs)
        if heads < 1 or self.dim % heads:
            raise ValueError(f"heads must be >= 1 and divide dim={self.dim}, got {heads}")
        self.heads = heads

    def _net_class(self) -> type[nn.Module]:
        return SASRecNet

    def _model_params(self) -> dict[str, Any]:
        return {**super()._model_params(), "heads": self.heads}

    def _net_args(self, n_items: int) -> dict[str, Any]:
        return {**super()._net_args(n_items), "heads": self.heads}
