"""One training loop, run in process or on Spark executors with Horovod.

A network to train is an ``nn.Module`` with ``loss(batch, generator) -> Tensor``
(:class:`TrainableNet`); it is built on every rank from a picklable factory (a
module-level class, or ``functools.partial`` of one), because Horovod ranks are
separate processes that receive the job by cloudpickle.

:func:`train` picks the path from :class:`TrainConfig`:

* ``local`` (``workers`` 0 or 1 with ``backend="auto"``): the examples are collected
  to the driver and trained in this process. For small data, tests, and the baseline
  the benchmark compares against.
* ``horovod`` (``workers`` >= 2, or ``backend="horovod"``): the examples are
  materialised with Petastorm's Spark converter and ``horovod.spark.run`` starts
  ``workers`` ranks as Spark tasks. Each rank reads its own shard, gradients are
  averaged by ``hvd.DistributedOptimizer`` (Gloo on CPU; NCCL for CUDA tensors when
  Horovod was built with it), the learning rate is scaled by the number of ranks,
  and rank 0's parameters and optimizer state are broadcast at the start.

Both paths run :func:`run_epochs`, seed every epoch from ``(seed, epoch, rank)``, and
write a checkpoint after each epoch (rank 0 only); a rerun with the same checkpoint
folder continues after the last completed epoch.

Early stopping: given a ``validate(net) -> score`` (higher is better; rank 0 computes
it, every rank follows), the loop scores the network after each epoch, keeps the best
epoch's parameters, and stops once ``patience`` epochs in a row have not beaten it;
``epochs`` is then the most it trains. The best parameters are what it returns.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from pyspark.sql import DataFrame
from torch import nn

from shoprec import faults
from shoprec.lake import Storage, StorageOptions
from shoprec.training import checkpoint as ckpt
from shoprec.training import data

log = logging.getLogger(__name__)

LOCAL = "local"
HOROVOD = "horovod"
AUTO = "auto"
BACKENDS = (AUTO, LOCAL, HOROVOD)


class TrainableNet(Protocol):
    """What the loop needs from a network (an ``nn.Module`` that knows its loss)."""

    def loss(self, batch: data.Batch, gen: torch.Generator) -> torch.Tensor:
        """Mean loss of ``batch``; ``gen`` (CPU) draws any negatives reproducibly."""
        ...


NetFactory = Callable[[], nn.Module]
# A network (in eval mode, under no_grad) -> its validation score, higher is better.
Validator = Callable[[nn.Module], float]


@dataclass(frozen=True)
class TrainConfig:
    """How to train: the loop's hyperparameters and where it runs.

    ``workers``: 0 or 1 trains in this process; N >= 2 starts N Horovod ranks on the
    Spark executors (needs N free task slots). ``backend="horovod"`` forces Horovod
    even for one worker (the benchmark's "1 Horovod worker"); ``"local"`` forbids it.
    ``lr`` is the single-worker rate; Horovod multiplies it by the number of ranks,
    since each step averages ``workers`` times as many examples.
    """

    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 42
    workers: int = 0
    backend: str = AUTO
    # A local path or a lake URI (s3a://...) that every rank's host reaches.
    checkpoint_dir: str | None = None
    # Petastorm cache: a temporary local folder when None, which every rank reaches on
    # one host; a multi-host cluster needs a shared folder here (HDFS, a mount).
    cache_dir: str | None = None
    storage: StorageOptions = field(default_factory=StorageOptions)  # for checkpoint_dir
    # torch intra-op threads per process. 1 by default: a Spark task already holds a
    # core, and torch threads that outnumber free cores spin (a tiny GRU step took
    # 144 ms with 2 threads against 2.4 ms with 1 on a busy 2-core host). None: the
    # host's cores divided by the ranks on it.
    threads: int | None = 1
    start_timeout: int = 120  # seconds Horovod waits for all ranks to start
    # Epochs without a better validation score before training stops (with a
    # validator; 0 never stops early, but the best epoch is still the one returned).
    patience: int = 0
    # Wall-clock budget of the training loop in seconds (validation included): no epoch
    # starts that the last one's duration says would end past it. None: no budget.
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(
                f"epochs and batch_size must be >= 1: {self.epochs}, {self.batch_size}"
            )
        if self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(
                f"lr must be > 0 and weight_decay >= 0: {self.lr}, {self.weight_decay}"
            )
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"max_seconds must be > 0, got {self.max_seconds}")
        if self.workers < 0 or self.patience < 0:
            raise ValueError(f"workers and patience must be >= 0: {self.workers}, {self.patience}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.backend == LOCAL and self.workers > 1:
            raise ValueError(f"backend 'local' trains in one process, got workers={self.workers}")

    @property
    def resolved_backend(self) -> str:
        """``local`` or ``horovod``, as :func:`train` will run."""
        if self.backend == AUTO:
            return HOROVOD if self.workers >= 2 else LOCAL
        return self.backend

    @property
    def ranks(self) -> int:
        """Processes that train: ``workers`` under Horovod, otherwise 1."""
        return max(self.workers, 1) if self.resolved_backend == HOROVOD else 1


@dataclass
class TrainResult:
    """What a training run returns to the driver (rank 0's parameters, on the CPU)."""

    state: dict[str, torch.Tensor]
    losses: list[float]  # mean loss of every completed epoch, resumed ones included
    start_epoch: int  # epochs already done by a checkpoint when this run started
    examples: int  # examples processed by this run, all ranks together
    seconds: float  # time in the training loop, all epochs of this run
    backend: str
    ranks: int
    n_examples: int = 0  # rows in the training examples (one epoch)
    extra: dict[str, Any] = field(default_factory=dict)
    # with a validator: the score after every completed epoch, and the epoch kept
    scores: list[float] = field(default_factory=list)
    best_epoch: int | None = None

    @property
    def examples_per_second(self) -> float:
        """Training throughput of this run (0 when it resumed past its last epoch)."""
        return self.examples / self.seconds if self.seconds > 0 else 0.0


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """The seed of one rank's epoch, so a resumed epoch replays exactly."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


def make_optimizer(net: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Adam over all parameters (dense gradients, which Horovod allreduces as they are)."""
    return torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)


@dataclass
class EarlyStopping:
    """The validation scores so far and the best epoch's parameters (a CPU copy).

    Checkpointed with the network, so a resumed run stops where an uninterrupted one
    would and returns the same best epoch.
    """

    patience: int
    # after epochs 1, 2, ...; NaN for an epoch that was not validated (a run resumed
    # from a checkpoint written without a validator)
    scores: list[float] = field(default_factory=list)
    best_epoch: int = 0  # completed epochs at the best score; 0 before any
    best_state: dict[str, torch.Tensor] | None = None

    def update(self, epochs_done: int, score: float, net: nn.Module) -> bool:
        """Record ``score`` after ``epochs_done`` epochs; True when training should stop."""
        earlier = self.scores[: epochs_done - 1]
        self.scores = [*earlier, *[math.nan] * (epochs_done - 1 - len(earlier)), score]
        best = self.scores[self.best_epoch - 1] if self.best_epoch else None
        if best is None or score > best:
            self.best_epoch = epochs_done
            self.best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        return self.stopped(epochs_done)

    def stopped(self, epochs_done: int) -> bool:
        """Whether training stops after ``epochs_done`` epochs (a resumed run: had stopped)."""
        return (
            self.patience > 0
            and self.best_epoch > 0
            and epochs_done - self.best_epoch >= self.patience
        )

    def state(self) -> dict[str, Any]:
        """What a checkpoint stores."""
        return {"scores": self.scores, "best_epoch": self.best_epoch, "best": self.best_state}

    @classmethod
    def resumed(cls, patience: int, state: dict[str, Any] | None) -> EarlyStopping:
        """The tracker as a checkpoint left it (a fresh one without)."""
        if not state:
            return cls(patience)
        return cls(patience, list(state["scores"]), int(state["best_epoch"]), state["best"])


def run_epochs(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Callable[[int], Iterable[data.Batch]],
    *,
    start_epoch: int,
    epochs: int,
    seed: int,
    rank: int = 0,
    device: torch.device | None = None,
    reduce_loss: Callable[[float], float] = float,
    on_epoch_end: Callable[[int, list[float]], None] | None = None,
    losses: list[float] | None = None,
    validate: Validator | None = None,
    stopping: EarlyStopping | None = None,
    max_seconds: float | None = None,
) -> tuple[list[float], int, float]:
    """Train epochs ``start_epoch..epochs-1``; return (all losses, examples, seconds).

    ``batches(epoch)`` yields that epoch's batches for this rank. ``reduce_loss``
    turns this rank's mean loss into the reported one (an average over ranks under
    Horovod); ``on_epoch_end(epochs_done, losses)`` writes the checkpoint. With
    ``validate`` and ``stopping``, each epoch is scored (outside the timed loop),
    training ends early as ``stopping`` decides, and ``net`` ends with the best
    epoch's parameters. With ``max_seconds``, no epoch starts that would end past it
    (judged by the epochs so far); every rank decides on the ranks' average clock
    (through ``reduce_loss``), so all stop together.
    """
    trainable: TrainableNet = net  # type: ignore[assignment]
    history = list(losses or [])
    examples, seconds = 0, 0.0
    started = time.perf_counter()
    for epoch in range(start_epoch, epochs):
        s = epoch_seed(seed, epoch, rank)
        torch.manual_seed(s)
        gen = torch.Generator().manual_seed(s)
        net.train()
        total, count = 0.0, 0
        began = time.perf_counter()
        for batch in batches(epoch):
            if device is not None and device.type != "cpu":
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            optimizer.zero_grad()
            loss = trainable.loss(batch, gen)
            loss.backward()
            optimizer.step()
            faults.point("train.step")  # a rank killed mid-epoch
            n = len(next(iter(batch.values())))
            total += float(loss.detach()) * n
            count += n
        seconds += time.perf_counter() - began
        examples += count
        history.append(reduce_loss(total / max(count, 1)))
        stop, score = False, None
        if validate is not None and stopping is not None:
            net.eval()
            with torch.no_grad():
                score = float(validate(net))
            stop = stopping.update(epoch + 1, score, net)
        if rank == 0:
            log.info(
                "epoch %d/%d: loss %.4f, validation %s, %.1f s",
                epoch + 1,
                epochs,
                history[-1],
                "-" if score is None else f"{score:.4f}",
                time.perf_counter() - began,
            )
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, history)
        if max_seconds is not None and not stop:
            elapsed = time.perf_counter() - started
            last = elapsed / (epoch + 1 - start_epoch)
            # the same decision on every rank: the ranks' average of their own clocks
            stop = reduce_loss(elapsed + last) > max_seconds
            if stop and epoch + 1 < epochs:
                log.info("training budget of %.0f s reached after epoch %d", max_seconds, epoch + 1)
        if stop:
            break
    net.eval()
    if stopping is not None and stopping.best_state is not None:
        net.load_state_dict(stopping.best_state)
    return history, examples, seconds


def train(
    build: NetFactory,
    examples: DataFrame,
    cfg: TrainConfig,
    *,
    signature: str,
    validate: Validator | None = None,
) -> TrainResult:
    """Train the network ``build()`` on ``examples``; return rank 0's parameters.

    ``signature`` names what is trained (model, hyperparameters, data shape); a
    checkpoint in ``cfg.checkpoint_dir`` is resumed only when it matches. With
    ``validate`` (picklable, for Horovod's rank 0), training stops early after
    ``cfg.patience`` epochs without a better score and returns the best epoch.

    Example::

        result = train(partial(LightGCNNet, ...), pairs, TrainConfig(epochs=5, workers=2),
                       signature="lightgcn-...")
        net.load_state_dict(result.state)
    """
    if cfg.resolved_backend == LOCAL:
        return _train_local(build, examples, cfg, signature, validate)
    return _train_horovod(build, examples, cfg, signature, validate)


# --------------------------------------------------------------------------- local
def _train_local(
    build: NetFactory,
    examples: DataFrame,
    cfg: TrainConfig,
    sig: str,
    validate: Validator | None,
) -> TrainResult:
    arrays = data.local_arrays(examples)
    n = len(next(iter(arrays.values()))) if arrays else 0
    if n == 0:
        raise ValueError("no training examples")
    signature = f"{sig}|n={n}"
    device = _device(0)
    torch.manual_seed(cfg.seed)
    net = build().to(device)
    optimizer = make_optimizer(net, cfg.lr, cfg.weight_decay)
    found = ckpt.latest(cfg.checkpoint_dir, signature, Storage(cfg.storage))
    start, losses = 0, []
    if found is not None:
        net.load_state_dict(found.model_state)
        optimizer.load_state_dict(found.optimizer_state)
        start, losses = min(found.epoch, cfg.epochs), found.losses
    stopping = EarlyStopping.resumed(cfg.patience, found.stopping if found else None)
    if stopping.stopped(start):
        start = cfg.epochs  # the killed run had already stopped early
    previous = torch.get_num_threads()
    torch.set_num_threads(cfg.threads or previous)
    try:
        losses, seen, seconds = run_epochs(
            net,
            optimizer,
            lambda e: data.local_batches(arrays, batch_size=cfg.batch_size, seed=cfg.seed, epoch=e),
            start_epoch=start,
            epochs=cfg.epochs,
            seed=cfg.seed,
            device=device,
            on_epoch_end=_checkpointer(cfg, signature, net, optimizer, stopping),
            losses=losses,
            validate=validate,
            stopping=stopping,
            max_seconds=cfg.max_seconds,
        )
    finally:
        torch.set_num_threads(previous)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    return TrainResult(
        state,
        losses,
        start,
        seen,
        seconds,
        LOCAL,
        1,
        n,
        scores=stopping.scores,
        best_epoch=stopping.best_epoch or None,
    )


def _device(local_rank: int) -> torch.device:
    """This process's GPU when CUDA is available (one per local rank), else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def _checkpointer(
    cfg: TrainConfig,
    signature: str,
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    stopping: EarlyStopping | None = None,
) -> Callable[[int, list[float]], None] | None:
    folder = cfg.checkpoint_dir
    if folder is None:
        return None

    def write(done: int, losses: list[float]) -> None:
        ckpt.save(
            folder,
            storage=Storage(cfg.storage),
            epoch=done,
            signature=signature,
            model_state=net.state_dict(),
            optimizer_state=optimizer.state_dict(),
            losses=losses,
            stopping=stopping.state() if stopping is not None and stopping.scores else None,
        )

    return write


# ------------------------------------------------------------------------- horovod
@dataclass(frozen=True)
class HorovodJob:
    """Everything a rank needs, shipped to the executors by cloudpickle."""

    build: NetFactory
    converter: Any  # petastorm SparkDatasetConverter (picklable: URLs and sizes)
    cfg: TrainConfig
    signature: str
    steps_per_epoch: int
    validate: Validator | None = None  # called on rank 0 only


def _train_horovod(
    build: NetFactory,
    examples: DataFrame,
    cfg: TrainConfig,
    sig: str,
    validate: Validator | None,
) -> TrainResult:
    import horovod.spark

    ranks = cfg.ranks
    own_cache = cfg.cache_dir is None
    cache_dir = tempfile.mkdtemp(prefix="shoprec-petastorm-") if own_cache else cfg.cache_dir
    assert cache_dir is not None
    converter = data.make_converter(examples, cache_dir=cache_dir, shards=ranks)
    try:
        n = int(converter.dataset_size)
        job = HorovodJob(
            build=build,
            converter=converter,
            cfg=cfg,
            signature=f"{sig}|n={n}",
            steps_per_epoch=data.steps_per_epoch(n, batch_size=cfg.batch_size, workers=ranks),
            validate=validate,
        )
        # Gloo runs the ranks' rendezvous and CPU collectives; a Horovod built with
        # HOROVOD_GPU_OPERATIONS=NCCL allreduces the CUDA gradients with NCCL.
        results = horovod.spark.run(
            horovod_main,
            args=(job,),
            num_proc=ranks,
            use_gloo=True,
            start_timeout=cfg.start_timeout,
            verbose=0,
        )
    finally:
        converter.delete()
        if own_cache:
            shutil.rmtree(cache_dir, ignore_errors=True)
    chief = next(r for r in results if r["rank"] == 0)
    state = {k: torch.from_numpy(v) for k, v in chief["state"].items()}
    return TrainResult(
        state=state,
        losses=chief["losses"],
        start_epoch=chief["start_epoch"],
        examples=sum(int(r["examples"]) for r in results),
        seconds=max(float(r["seconds"]) for r in results),
        backend=HOROVOD,
        ranks=ranks,
        n_examples=n,
        scores=chief["scores"],
        best_epoch=chief["best_epoch"],
        extra={
            "steps_per_epoch": job.steps_per_epoch,
            # where each rank ran: {rank: {"executor_id", "pid", "host"}}
            "executors": {int(r["rank"]): r["executor"] for r in results},
        },
    )


def executor_of_this_process() -> dict[str, Any]:
    """The Spark executor whose process tree this rank runs in: its id, JVM pid and host.

    Horovod starts each rank as a child of a Python worker of one Spark task; walking up
    the process tree (Linux /proc) finds that executor's JVM. ``executor_id`` is None
    where there is no such JVM (local mode, or not Linux).
    """
    import socket

    pid = os.getpid()
    for _ in range(32):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        args = [a.decode(errors="replace") for a in cmdline]
        if "org.apache.spark.executor.CoarseGrainedExecutorBackend" in args:
            i = args.index("--executor-id") if "--executor-id" in args else -1
            return {
                "executor_id": args[i + 1] if i >= 0 else None,
                "pid": pid,
                "host": socket.gethostname(),
            }
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent <= 1:
            break
        pid = parent
    return {"executor_id": None, "pid": None, "host": socket.gethostname()}


def horovod_main(job: HorovodJob) -> dict[str, Any]:
    """One Horovod rank: read this rank's shard, train, return (rank 0) the parameters.

    Module-level so cloudpickle ships it by reference; the ranks import shoprec.
    """
    import horovod.torch as hvd

    # Petastorm 0.12 calls pyarrow APIs that pyarrow 14 deprecates, once per file.
    warnings.simplefilter("ignore", FutureWarning)
    hvd.init()
    try:
        rank, size, cfg = hvd.rank(), hvd.size(), job.cfg
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // hvd.local_size()))
        device = _device(hvd.local_rank())
        torch.manual_seed(cfg.seed)
        net = job.build().to(device)
        optimizer = make_optimizer(net, cfg.lr * size, cfg.weight_decay)
        start, losses, early = 0, [], None
        if rank == 0:
            found = ckpt.latest(cfg.checkpoint_dir, job.signature, Storage(cfg.storage))
            if found is not None:
                net.load_state_dict(found.model_state)
                optimizer.load_state_dict(found.optimizer_state)
                start, losses = min(found.epoch, cfg.epochs), found.losses
                early = found.stopping
        start, losses, early = hvd.broadcast_object(
            (start, losses, early), root_rank=0, name="resume"
        )
        stopping = EarlyStopping.resumed(cfg.patience, early)
        if stopping.stopped(start):
            start = cfg.epochs
        validate = None
        if job.validate is not None:
            chief_validate = job.validate

            def validate(model: nn.Module) -> float:
                score = chief_validate(model) if rank == 0 else None
                # a fixed name: by default it is the type of the object, which differs
                # between rank 0 (a float) and the others (None)
                return float(hvd.broadcast_object(score, root_rank=0, name="validation"))

        hvd.broadcast_parameters(net.state_dict(), root_rank=0)
        hvd.broadcast_optimizer_state(optimizer, root_rank=0)
        dist_opt = hvd.DistributedOptimizer(optimizer, named_parameters=net.named_parameters())

        def reduce_loss(value: float) -> float:
            avg = hvd.allreduce(torch.tensor([value]), name="epoch_loss", op=hvd.Average)
            return float(avg.item())

        write = _checkpointer(cfg, job.signature, net, optimizer, stopping) if rank == 0 else None
        loader_cm = data.shard_loader(
            job.converter,
            batch_size=cfg.batch_size,
            cur_shard=rank,
            shard_count=size,
            seed=cfg.seed + rank,
        )
        with loader_cm as loader:
            stream = iter(loader)

            def batches(epoch: int) -> Iterable[data.Batch]:
                for _ in range(job.steps_per_epoch):
                    yield next(stream)

            losses, seen, seconds = run_epochs(
                net,
                dist_opt,
                batches,
                start_epoch=start,
                epochs=cfg.epochs,
                seed=cfg.seed,
                rank=rank,
                device=device,
                reduce_loss=reduce_loss,
                on_epoch_end=write,
                losses=losses,
                validate=validate,
                stopping=stopping,
                max_seconds=cfg.max_seconds,
            )
        out: dict[str, Any] = {
            "rank": rank,
            "examples": seen,
            "seconds": seconds,
            "executor": executor_of_this_process(),
        }
        if rank == 0:
            state = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
            out.update(
                state=state,
                losses=losses,
                start_epoch=start,
                scores=stopping.scores,
                best_epoch=stopping.best_epoch or None,
            )
        return out
    finally:
        hvd.shutdown()
