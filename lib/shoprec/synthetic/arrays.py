"""Type aliases for the numpy arrays passed between generator stages."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

IntArray: TypeAlias = npt.NDArray[np.int64]
FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]


def as_int(values: npt.ArrayLike) -> IntArray:
    """``values`` as an int64 array."""
    return np.asarray(values, dtype=np.int64)


def group_starts(counts: IntArray) -> IntArray:
    """Start offset of each group in a flat array made of groups of ``counts`` rows."""
    starts = np.zeros(counts.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return starts
