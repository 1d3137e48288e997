"""Per-epoch training checkpoints: write after every epoch, resume from the newest.

A checkpoint is ``epoch-NNNN.pt`` in the run's folder, holding the network and
optimizer state, the epoch count it completes and a ``signature`` of what was being
trained (model, hyperparameters, data size). Resuming only accepts a checkpoint with
the same signature, so yesterday's run in the same folder, or a run with another
``dim``, can never be continued by mistake; it is ignored and training starts over.

The folder is a local path or a URI on the lake's storage (``s3a://...``): on a
cluster, rank 0 may run on any executor and a retried fit on another, so checkpoints
live where every node reaches them. Each file is written atomically
(:class:`~shoprec.lake.Storage`), so a run killed while writing leaves the previous
checkpoint intact. Only the newest ``keep`` files are kept.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from shoprec.lake import Storage, join

_NAME = re.compile(r"^epoch-(\d{4,})\.pt$")


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: ``epoch`` epochs are done; states to restore."""

    epoch: int
    model_state: dict[str, Any]
    optimizer_state: dict[str, Any]
    losses: list[float]
    stopping: dict[str, Any] | None = None  # trainer.EarlyStopping.state(), when validated


def _files(folder: str, storage: Storage) -> list[tuple[int, str]]:
    names = storage.listdir(folder)
    found = [(int(m.group(1)), join(folder, n)) for n in names if (m := _NAME.match(n))]
    return sorted(found)


def save(
    folder: str | Path,
    *,
    epoch: int,
    signature: str,
    model_state: dict[str, Any],
    optimizer_state: dict[str, Any],
    losses: list[float],
    stopping: dict[str, Any] | None = None,
    keep: int = 2,
    storage: Storage | None = None,
) -> str:
    """Write the checkpoint after ``epoch`` completed epochs; return its path.

    Tensors are copied to the CPU first so a GPU run's checkpoint loads anywhere.
    """
    if epoch < 1:
        raise ValueError(f"epoch must be >= 1, got {epoch}")
    store = storage or Storage()
    path = join(str(folder), f"epoch-{epoch:04d}.pt")
    payload = {
        "epoch": epoch,
        "signature": signature,
        "model": {k: v.detach().cpu() for k, v in model_state.items()},
        "optimizer": _to_cpu(optimizer_state),
        "losses": list(losses),
        "stopping": _to_cpu(stopping),
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    store.write_bytes(path, buf.getvalue())
    for _, old in _files(str(folder), store)[:-keep]:
        store.delete(old)
    return path


def latest(
    folder: str | Path | None, signature: str, storage: Storage | None = None
) -> Checkpoint | None:
    """The newest checkpoint in ``folder`` written for ``signature``, or None."""
    if folder is None:
        return None
    store = storage or Storage()
    for _, path in reversed(_files(str(folder), store)):
        data = io.BytesIO(store.read_bytes(path))
        payload = torch.load(data, map_location="cpu", weights_only=True)
        if payload.get("signature") != signature:
            continue
        return Checkpoint(
            epoch=int(payload["epoch"]),
            model_state=payload["model"],
            optimizer_state=payload["optimizer"],
            losses=[float(x) for x in payload["losses"]],
            stopping=payload.get("stopping"),
        )
    return None


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj
