"""Leases on the lake: one holder at a time per stage and date (or any named resource).

Two runs of one stage for one date must never interleave: a manual run beside the
DAG's, or a retried task whose first try is still alive, would share the night's
hand-off files and partitions. Each stage run holds a lease while it works::

    _locks/<name>/<generation>.json       who holds it, until when (renewed while alive)
    _locks/<name>/<generation>.released   the holder let go

A lease is taken by creating the next generation's file, which the storage does
atomically and for one writer only (:meth:`~shoprec.lake.Storage.create_new`: a hard
link on local disks, a conditional PUT on S3), so of two runs that race exactly one
wins and the other is refused with a line naming the winner. The holder renews its
file every third of the time to live; a process killed with its lease stops renewing,
and once the lease has expired (at once, when the holder was a process on the same
machine that is gone) the next run takes over by creating the generation after it. A holder that finds a later generation when it renews has lost its lease
(it stalled for longer than the time to live) and its stage fails at the end rather
than pass as the only writer. Lease times are the holders' clocks: keep the time to
live well above the clock skew between the machines that run stages.

Example::

    with hold(lake, "validate/2026-11-02", run_id=run_id, ttl_seconds=600):
        ...  # only one run of validate for 2026-11-02 gets here at a time
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shoprec.errors import ShoprecError
from shoprec.lake import LakeFiles

log = logging.getLogger(__name__)

LOCKS = "_locks"
_HELD = ".json"
_RELEASED = ".released"


class LockHeld(ShoprecError):
    """Another live run holds the lease (the message names it)."""


class LockLost(ShoprecError):
    """This run's lease expired while it worked and another run took it over."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _gone(holder: dict[str, Any]) -> bool:
    """Whether the holder was a process on this machine that no longer runs.

    A retried task on the same machine (an Airflow worker running spark-submit in
    client mode) need not wait out the time to live of the try that was killed. A
    holder on another machine, or a pid in use again, counts as alive.
    """
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a process of another user has that pid now
        return False
    return False


def _file(name: str, generation: int, suffix: str) -> str:
    return f"{LOCKS}/{name}/{generation:010d}{suffix}"


class Lease:
    """One holder's lease on ``name`` under the lake root; see the module docstring."""

    def __init__(
        self, files: LakeFiles, name: str, *, run_id: str, ttl_seconds: float, what: str = ""
    ) -> None:
        self.files = files
        self.name = name
        self.ttl = dt.timedelta(seconds=ttl_seconds)
        self.what = what or name
        self.generation: int | None = None
        self.lost = False
        # the lease this one took over from a holder that never let go (a killed or
        # stalled run), as that holder last wrote it, plus whether its process is gone
        self.superseded: dict[str, Any] | None = None
        self._holder = {
            "run_id": run_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "acquired_at": _now().isoformat(),
        }

    # ------------------------------------------------------------ state
    def _generations(self) -> tuple[list[int], set[int]]:
        """Generations with a lease file, oldest first, and those released."""
        held, released = [], set()
        for entry in self.files.list_files(f"{LOCKS}/{self.name}"):
            stem, _, suffix = entry.partition(".")
            if not stem.isdigit():
                continue  # a temporary file of a write in progress
            if "." + suffix == _HELD:
                held.append(int(stem))
            elif "." + suffix == _RELEASED:
                released.add(int(stem))
        return sorted(held), released

    def _doc(self) -> dict[str, Any]:
        now = _now()
        return {
            **self._holder,
            "renewed_at": now.isoformat(),
            "expires_at": (now + self.ttl).isoformat(),
        }

    def _refusal(self, generation: int, doc: dict[str, Any]) -> LockHeld:
        return LockHeld(
            f"{self.what} is already running: run {doc.get('run_id')} on {doc.get('host')} "
            f"(pid {doc.get('pid')}) since {doc.get('acquired_at')}; its lock "
            f"{self.files.file_path(_file(self.name, generation, _HELD))} expires at "
            f"{doc.get('expires_at')} if that run is gone"
        )

    # ------------------------------------------------------------ life
    def acquire(self) -> None:
        """Take the lease, or raise :class:`LockHeld` naming the live holder."""
        for _ in range(3):
            held, released = self._generations()
            latest = held[-1] if held else 0
            previous = None
            if latest and latest not in released:
                doc = self.files.read_json(_file(self.name, latest, _HELD)) or {}
                expires = dt.datetime.fromisoformat(str(doc.get("expires_at", "1970-01-01T00:00Z")))
                gone = _gone(doc)
                if expires > _now() and not gone:
                    raise self._refusal(latest, doc)
                log.warning(
                    "%s: taking over the lock of run %s (expires %s; process %s on %s gone: %s)",
                    self.what,
                    doc.get("run_id"),
                    doc.get("expires_at"),
                    doc.get("pid"),
                    doc.get("host"),
                    gone,
                )
                previous = {**doc, "gone": gone}
            if self.files.create_json(_file(self.name, latest + 1, _HELD), self._doc()):
                self.generation = latest + 1
                self.superseded = previous
                for old in held[:-1]:  # keep the last one before ours, for the record
                    self.files.delete_files(_file(self.name, old, _HELD))
                    self.files.delete_files(_file(self.name, old, _RELEASED))
                return
            # another run created that generation first: look again (it will be refused)
        held, _ = self._generations()
        raise self._refusal(held[-1], self.files.read_json(_file(self.name, held[-1], _HELD)) or {})

    def renew(self) -> bool:
        """Push the expiry out by the time to live; False (and ``lost``) if superseded."""
        assert self.generation is not None
        held, _ = self._generations()
        if held and held[-1] > self.generation:
            self.lost = True
            return False
        self.files.write_json(_file(self.name, self.generation, _HELD), self._doc())
        return True

    def release(self) -> None:
        """Let go: the next run takes the lease at once."""
        if self.generation is not None and not self.lost:
            self.files.create_json(_file(self.name, self.generation, _RELEASED), _now().isoformat())
        self.generation = None


@contextmanager
def hold(
    files: LakeFiles,
    name: str,
    *,
    run_id: str,
    ttl_seconds: float,
    what: str = "",
    wait_seconds: float = 0,
    enabled: bool = True,
) -> Iterator[Lease]:
    """Hold the lease on ``name`` for the block, renewing it from a background thread.

    Raises :class:`LockHeld` on entry when a live run holds it (after waiting up to
    ``wait_seconds`` for it to let go), and :class:`LockLost` on exit when the lease
    was taken over while the block ran. ``enabled=False`` holds nothing (conf
    ``locks.enabled``, for storage without an atomic create).
    """
    if not enabled:
        yield Lease(files, name, run_id=run_id, ttl_seconds=ttl_seconds, what=what)
        return
    lease = Lease(files, name, run_id=run_id, ttl_seconds=ttl_seconds, what=what)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            lease.acquire()
            break
        except LockHeld:
            if time.monotonic() >= deadline:
                raise
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(ttl_seconds / 3):
            try:
                if not lease.renew():
                    log.error("%s: the lock was taken over by another run", lease.what)
                    return
            except Exception:  # a storage hiccup: try again at the next beat
                log.warning("%s: could not renew the lock", lease.what, exc_info=True)

    beat = threading.Thread(target=heartbeat, name=f"lease:{name}", daemon=True)
    beat.start()
    try:
        yield lease
    finally:
        stop.set()
        beat.join()
        lease.release()
    if lease.lost:
        raise LockLost(
            f"{lease.what}: the lock expired while this run worked and another run took it "
            f"over; raise locks.ttl_seconds (now {ttl_seconds:g}) and rerun"
        )
