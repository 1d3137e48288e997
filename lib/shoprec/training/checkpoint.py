"""Per-epoch training checkpoints: write after every epoch, resume from the newest.

A checkpoint is ``epoch-NNNN.pt`` in the run's folder, holding the network and
optimizer state, the epoch count it completes and a ``signature`` of what was being
trained (model, hyperparameters, data size). Resuming only accepts a checkpoint with
the same signature, so yesterday's run in the same folder, or a run with another
``dim``, can never be continued by mistake; it is ignored and training starts over.

Files are written to a temporary name and renamed, so a run killed while writing
leaves the previous checkpoint intact. Only the newest ``keep`` files are kept.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

_NAME = re.compile(r"^epoch-(\d{4,})\.pt$")


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: ``epoch`` epochs are done; states to restore."""

    epoch: int
    model_state: dict[str, Any]
    optimizer_state: dict[str, Any]
    losses: list[float]


def _files(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def save(
    folder: str | Path,
    *,
    epoch: int,
    signature: str,
    model_state: dict[str, Any],
    optimizer_state: dict[str, Any],
    losses: list[float],
    keep: int = 2,
) -> Path:
    """Write the checkpoint after ``epoch`` completed epochs; return its path.

    Tensors are copied to the CPU first so a GPU run's checkpoint loads anywhere.
    """
    if epoch < 1:
        raise ValueError(f"epoch must be >= 1, got {epoch}")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"epoch-{epoch:04d}.pt"
    tmp = out / f".{path.name}.tmp"
    payload = {
        "epoch": epoch,
        "signature": signature,
        "model": {k: v.detach().cpu() for k, v in model_state.items()},
        "optimizer": _to_cpu(optimizer_state),
        "losses": list(losses),
    }
    torch.save(payload, tmp)
    os.replace(tmp, path)
    for _, old in _files(out)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def latest(folder: str | Path | None, signature: str) -> Checkpoint | None:
    """The newest checkpoint in ``folder`` written for ``signature``, or None."""
    if folder is None:
        return None
    for _, path in reversed(_files(Path(folder))):
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("signature") != signature:
            continue
        return Checkpoint(
            epoch=int(payload["epoch"]),
            model_state=payload["model"],
            optimizer_state=payload["optimizer"],
            losses=[float(x) for x in payload["losses"]],
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
