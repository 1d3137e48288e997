"""Pieces of the neural models: example building in Spark, history decoding, network shapes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import scipy.sparse as sp
import torch
from pyspark.sql import SparkSession

from shoprec import schemas as S
from shoprec.models import scoring
from shoprec.models.neural._base import latest_sequence, sampled_softmax_loss, top_weighted
from shoprec.models.neural.lightgcn import LightGCNNet, normalized_adjacency, propagate_once
from shoprec.models.neural.sequential import (
    SEQ,
    GRU4RecNet,
    SASRecNet,
    ordered_history,
    sequence_examples,
)
from shoprec.models.neural.twotower import HIST, HIST_W, TwoTowerNet, top_history_columns


def _ts(day: int) -> dt.datetime:
    return dt.datetime(2026, 1, day)


def test_sequences_follow_last_ts_and_fall_back_to_weight(spark: SparkSession) -> None:
    rows = [(0, 5, 3.0, _ts(1)), (0, 2, 1.0, _ts(3)), (0, 9, 2.0, _ts(2)), (1, 4, 1.0, _ts(1))]
    train = spark.createDataFrame(
        rows, f"{S.USER_IDX} long, {S.ITEM_IDX} long, {S.WEIGHT} double, last_ts timestamp"
    )
    by_time = sequence_examples(train, length=4, pad=10).collect()
    assert [r[SEQ] for r in by_time] == [[10, 5, 9, 2]]  # user 1 has one item: no example
    by_weight = sequence_examples(train.drop("last_ts"), length=2, pad=10).collect()
    assert [r[SEQ] for r in by_weight] == [[9, 5]]  # the latest two, heaviest last

    hist = {r[S.USER_IDX]: r for r in ordered_history(train).collect()}
    assert hist[0][scoring.ITEM_IDXS] == [2, 5, 9]
    assert hist[0][scoring.WEIGHTS] == [3.0, 1.0, 2.0]  # positions in time order
    block = scoring.to_user_block(
        scoring.collect_pandas(ordered_history(train).orderBy(S.USER_IDX)), 10
    )
    assert latest_sequence(block.history, 2, 10).tolist() == [[9, 2], [10, 4]]


def test_top_history_pads_to_fixed_width_heaviest_first(spark: SparkSession) -> None:
    train = spark.createDataFrame(
        [(0, 3, 1.0), (0, 1, 2.0), (0, 2, 2.0), (1, 0, 1.0)],
        f"{S.USER_IDX} long, {S.ITEM_IDX} long, {S.WEIGHT} double",
    )
    got = {r[S.USER_IDX]: r for r in top_history_columns(train, length=2, pad=9).collect()}
    assert got[0][HIST] == [1, 2] and got[0][HIST_W] == [2.0, 2.0]
    assert got[1][HIST] == [0, 9] and got[1][HIST_W] == [1.0, 0.0]
    csr = sp.csr_matrix(np.array([[0, 2, 2, 1], [1, 0, 0, 0]], np.float32))
    items, weights = top_weighted(csr, 2, 9)
    assert items.tolist() == [[1, 2], [0, 9]] and weights.tolist() == [[2, 2], [1, 0]]


def test_network_shapes_and_losses() -> None:
    gen = torch.Generator().manual_seed(0)
    seq = torch.tensor([[6, 6, 0, 1, 2], [0, 1, 2, 3, 4]])
    for net in (
        GRU4RecNet(n_items=6, dim=8, max_len=4, negatives=3, layers=1, dropout=0.0),
        SASRecNet(n_items=6, dim=8, max_len=4, negatives=0, layers=1, heads=2, dropout=0.0),
    ):
        assert net.encode(seq[:, :-1]).shape == (2, 4, 8)
        assert net.users(seq[:, 1:]).shape == (2, 8)
        assert net.item_vectors().shape == (6, 8)
        assert torch.isfinite(net.loss({SEQ: seq}, gen))

    tower = TwoTowerNet(n_items=5, dim=4, temperature=0.5, log_q=np.zeros(5, np.float32))
    hist = torch.tensor([[0, 1, 5], [2, 5, 5]])
    u = tower.users(hist, torch.tensor([[1.0, 2.0, 0.0], [1.0, 0.0, 0.0]]))
    assert u.shape == (2, 4) and torch.allclose(u.norm(dim=1), torch.ones(2))
    assert tower.item_vectors().shape == (5, 4)
    batch = {"item": torch.tensor([1, 2]), HIST: hist, HIST_W: torch.ones(2, 3)}
    assert torch.isfinite(tower.loss(batch, gen))

    gcn = LightGCNNet(3, 4, 8, 2, 1e-4, np.array([0, 1, 2]), np.array([0, 1, 3]))
    assert gcn.user_vectors().shape == (3, 8) and gcn.item_vectors().shape == (4, 8)
    assert torch.isfinite(
        gcn.loss({"user": torch.tensor([0, 1]), "item": torch.tensor([0, 1])}, gen)
    )


def test_normalized_adjacency_is_symmetric_with_degree_scaling() -> None:
    adj = normalized_adjacency(np.array([0, 0, 1]), np.array([0, 1, 1]), 2, 2).to_dense()
    assert torch.allclose(adj, adj.T)
    # user 0 (degree 2) - item 0 (degree 1): 1 / sqrt(2 * 1)
    assert adj[0, 2].item() == np.float32(1 / np.sqrt(2))


def test_propagation_gradient_equals_the_dense_products() -> None:
    graph = normalized_adjacency(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), 3, 3)
    x = torch.randn(6, 4, requires_grad=True)
    weights = torch.randn(6, 4)
    (propagate_once(graph, propagate_once(graph, x)) * weights).sum().backward()
    assert x.grad is not None
    dense = graph.to_dense()
    y = x.detach().clone().requires_grad_()
    (dense @ (dense @ y) * weights).sum().backward()
    assert y.grad is not None
    assert torch.allclose(x.grad, y.grad, atol=1e-6)


def test_sampled_softmax_equals_full_softmax_when_sampling_everything() -> None:
    gen = torch.Generator().manual_seed(0)
    q, table = torch.randn(3, 4), torch.randn(5, 4)
    pos = torch.tensor([0, 4, 2])
    full = torch.nn.functional.cross_entropy(q @ table.T, pos)
    assert torch.allclose(sampled_softmax_loss(q, pos, table, negatives=5, gen=gen), full)
    sampled = sampled_softmax_loss(q, pos, table, negatives=3, gen=gen)
    assert torch.isfinite(sampled)
