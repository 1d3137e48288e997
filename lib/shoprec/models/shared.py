"""Large read-only arrays that each executor receives once and its Python workers share.

A Spark broadcast reaches each executor once, but every Python worker that reads its
``value`` unpickles a private copy: a 25,000-item EASE matrix (2.5 GB) became 2.5 GB
per worker, one per core. :class:`SharedArray` ships the array as a ``.npy`` file with
``SparkContext.addFile`` instead: each executor fetches it once into its own
per-application folder, and every worker maps that file read-only, so the executor
holds one copy in its page cache whatever its number of cores. On the driver the
array is used as it is.

The cost is disk: Spark cannot take an added file back, so each shipped array stays
on the driver's temporary disk until it exits and on each executor's until the
application ends (a nightly stage is its own application; a grid of three EASE
settings at 25,000 items leaves three 2.5 GB files).

Example::

    side = SharedArray(spark.sparkContext, weights, "ease")
    df.mapInPandas(lambda parts: score(parts, side.value), schema)  # memory-mapped there
    side.unpersist()
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from pyspark import SparkContext, SparkFiles

# Arrays this Python worker has mapped, by file name (workers are reused across tasks).
_MAPPED: dict[str, np.ndarray] = {}


class SharedArray:
    """A read-only array every executor receives once, as a file its workers map."""

    def __init__(self, sc: SparkContext, array: np.ndarray, label: str) -> None:
        self.name = f"shoprec-{label}-{uuid.uuid4().hex}.npy"
        folder = tempfile.mkdtemp(prefix="shoprec-shared-")
        path = Path(folder) / self.name
        np.save(path, np.ascontiguousarray(array), allow_pickle=False)
        sc.addFile(str(path))
        atexit.register(shutil.rmtree, folder, True)
        self._driver: np.ndarray | None = array

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "_driver": None}

    @property
    def value(self) -> np.ndarray:
        """The array: the driver's own, or this executor's memory-mapped file."""
        if self._driver is not None:
            return self._driver
        mapped = _MAPPED.get(self.name)
        if mapped is None:
            mapped = _MAPPED[self.name] = np.load(SparkFiles.get(self.name), mmap_mode="r")
        return mapped

    def unpersist(self) -> None:
        """Nothing to drop early: Spark has no call that takes an added file back.

        Every task start compares the added files with the executor's copies (in local
        mode too, against the driver's file), so the driver keeps its copy until it
        exits, and executors keep theirs until the application ends.
        """
