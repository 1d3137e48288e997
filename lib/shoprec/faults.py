"""Fault points: named places where a test kills the process, to prove reruns recover.

The promise is that a run killed anywhere (a lost node, the kernel's OOM killer, an
operator's ``kill -9``) leaves the lake so that rerunning the date gives the same
tables as a run that was never killed. The code marks the places where a kill
matters most with :func:`point`: every stage's start and end, after every Delta
write, between the serving tables of a publication, after every training step. A
point does nothing unless ``SHOPREC_KILL_AT`` names it; then the process sends
itself SIGKILL right there: no ``finally`` block, no run record, no lock release,
as a real crash.

``SHOPREC_KILL_AT=NAME`` kills at the first time ``NAME`` is reached, ``NAME@N`` at
the N-th (the 3rd training step, the 2nd write of a table). Names are listed by
``SHOPREC_FAULT_POINTS=FILE``, which records every point reached, one a line: the
test of kill-anywhere reruns runs a night with it to find them.

Example::

    faults.point(f"lake.write.{spec.name}")
"""

from __future__ import annotations

import os
import signal
from collections import Counter

KILL_AT = "SHOPREC_KILL_AT"
TRACE = "SHOPREC_FAULT_POINTS"
_seen: Counter[str] = Counter()


def point(name: str) -> None:
    """Die here if ``SHOPREC_KILL_AT`` says so (a no-op otherwise)."""
    target = os.environ.get(KILL_AT)
    trace = os.environ.get(TRACE)
    if not target and not trace:
        return
    _seen[name] += 1
    if trace:
        with open(trace, "a") as f:
            f.write(f"{name}\n")
    if target:
        wanted, _, nth = target.partition("@")
        if wanted == name and _seen[name] == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)
