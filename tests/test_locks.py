from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from shoprec.lake import LakeFiles, Storage, StorageOptions, UnsupportedStorage
from shoprec.locks import Lease, LockHeld, LockLost, hold
from tests.servers import S3

NAME = "validate/2026-11-02"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["local", "s3"])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> LakeFiles:
    """A lake's files on a local disk, and on an S3 server on loopback."""
    if request.param == "local":
        return LakeFiles(str(tmp_path / "lake"), Storage())
    s3: S3 = request.getfixturevalue("s3")
    options = StorageOptions.from_hadoop(s3.hadoop_conf())
    return LakeFiles(s3.uri(f"locks-{uuid.uuid4().hex[:8]}"), Storage(options))


def lease(files: LakeFiles, run: str, ttl: float = 60) -> Lease:
    return Lease(files, NAME, run_id=run, ttl_seconds=ttl, what="validate 2026-11-02")


def test_a_second_run_is_refused_naming_the_first(files: LakeFiles) -> None:
    first = lease(files, "run-a")
    first.acquire()
    with pytest.raises(LockHeld, match=r"validate 2026-11-02 is already running: run run-a on "):
        lease(files, "run-b").acquire()
    first.release()
    second = lease(files, "run-b")
    second.acquire()  # released: taken at once
    assert second.generation == 2


def test_exactly_one_of_racing_runs_gets_the_lock(files: LakeFiles) -> None:
    start = threading.Barrier(6)
    won: list[str] = []
    refused: list[str] = []

    def race(run: str) -> None:
        start.wait()
        try:
            lease(files, run).acquire()
            won.append(run)
        except LockHeld:
            refused.append(run)

    threads = [threading.Thread(target=race, args=(f"run-{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 5


def test_an_expired_lock_is_taken_over_and_its_holder_learns_it(files: LakeFiles) -> None:
    stalled = lease(files, "run-a", ttl=0.5)
    stalled.acquire()
    time.sleep(0.7)  # it did not renew in time (a stalled or killed process)
    taker = lease(files, "run-b")
    taker.acquire()
    assert taker.generation == 2
    assert stalled.renew() is False and stalled.lost
    with pytest.raises(LockHeld, match="run run-b"):
        lease(files, "run-c").acquire()


def test_a_holder_that_lost_its_lock_fails_at_the_end(tmp_path: Path) -> None:
    files = LakeFiles(str(tmp_path / "lake"), Storage())
    with (
        pytest.raises(LockLost, match="took it over"),
        hold(files, NAME, run_id="a", ttl_seconds=0.3),
    ):
        # another run took over (as after a stall longer than the time to live)
        files.create_json(f"_locks/{NAME}/0000000002.json", {"run_id": "b"})
        time.sleep(0.4)  # the next renewal finds it


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    """On this machine at once (its pid is gone); from another, once it has expired."""
    root = str(tmp_path / "lake")
    script = (
        "import os, signal\n"
        "from shoprec.lake import LakeFiles, Storage\n"
        "from shoprec.locks import hold\n"
        f"with hold(LakeFiles({root!r}, Storage()), {NAME!r}, run_id='killed', ttl_seconds=2):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, check=False)
    assert proc.returncode == -9
    files = LakeFiles(root, Storage())
    taker = lease(files, "retry")
    taker.acquire()  # the holder's pid is gone on this host: no wait
    assert taker.generation == 2
    # the same, seen from another machine: the holder could be alive there
    doc = files.read_json(f"_locks/{NAME}/0000000002.json")
    files.write_json(f"_locks/{NAME}/0000000002.json", {**doc, "host": "elsewhere"})
    with pytest.raises(LockHeld, match="run retry on elsewhere"):
        lease(files, "next").acquire()
    files.write_json(
        f"_locks/{NAME}/0000000002.json",
        {**doc, "host": "elsewhere", "expires_at": "2026-01-01T00:00:00+00:00"},
    )
    late = lease(files, "late")
    late.acquire()  # expired
    assert late.generation == 3 and not os.path.exists(f"{root}/_locks/{NAME}/0000000001.json")


def test_storage_without_an_atomic_create_says_how_to_run(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedStorage, match=r"gs://; set locks.enabled: false"):
        Storage().create_new("gs://bucket/lake/_locks/x/0000000001.json", b"{}")
    # disabled: the block runs and nothing is written
    files = LakeFiles(str(tmp_path / "lake"), Storage())
    with hold(files, NAME, run_id="a", ttl_seconds=60, enabled=False):
        pass
    assert not (tmp_path / "lake").exists()
