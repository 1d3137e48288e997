"""Real servers on loopback for the tests: an S3 endpoint, an MLflow tracking server
and a Spark standalone cluster (a master and workers as separate JVMs).

Each is a context manager that starts the server as a subprocess, waits until it
answers, and stops it (and its children) on exit. Nothing here mocks project code:
Spark's S3A client, pyarrow's S3 client and MLflow talk to these servers over TCP.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyspark

BIN = Path(sys.executable).parent
ACCESS_KEY = "shoprec-test"
SECRET_KEY = "shoprec-test-secret"
BUCKET = "shoprec-lake"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_ok(url: str) -> Callable[[], bool]:
    """A readiness check: ``url`` answers 200."""
    return lambda: bool(urllib.request.urlopen(url, timeout=2).status == 200)


def _logged(log: Path, text: str) -> Callable[[], bool]:
    """A readiness check: ``text`` has appeared in the server's log."""
    return lambda: text in log.read_text()


def _wait(
    check: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], timeout: float, log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not come up in {timeout:.0f}s: {log.read_text()[-2000:]}")


def _start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


# ------------------------------------------------------------------------------ S3
@dataclass(frozen=True)
class S3:
    """An S3-compatible endpoint (moto's server mode) with one bucket."""

    endpoint: str
    bucket: str = BUCKET
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def hadoop_conf(self) -> dict[str, str]:
        """What conf/s3.example.yaml sets, pointed at this endpoint (spark.hadoop.* keys)."""
        return {
            "spark.hadoop.fs.s3a.endpoint": self.endpoint,
            "spark.hadoop.fs.s3a.access.key": self.access_key,
            "spark.hadoop.fs.s3a.secret.key": self.secret_key,
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
            "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
            "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
            "spark.hadoop.fs.s3a.aws.credentials.provider": (
                "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
            ),
        }

    def env(self) -> dict[str, str]:
        """AWS variables for clients that read the environment (MLflow's boto3)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
        }

    def uri(self, *parts: str) -> str:
        return "/".join([f"s3a://{self.bucket}", *parts])


@contextlib.contextmanager
def s3_server(workdir: Path) -> Iterator[S3]:
    """moto_server on a free loopback port, with the test bucket created."""
    port = free_port()
    log = workdir / "moto.log"
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
    proc = _start([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], log, env)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait(_http_ok(f"{endpoint}/moto-api/"), "moto_server", proc, 60, log)
        server = S3(endpoint)
        req = urllib.request.Request(f"{endpoint}/{server.bucket}", method="PUT")
        urllib.request.urlopen(req, timeout=10).close()
        yield server
    finally:
        _stop(proc)


# -------------------------------------------------------------------------- MLflow
@contextlib.contextmanager
def mlflow_server(workdir: Path, s3: S3) -> Iterator[str]:
    """An MLflow tracking server (SQLite store) whose artifacts live in the S3 bucket."""
    port = free_port()
    log = workdir / "mlflow.log"
    # Job execution (MLflow's background GenAI jobs, which tracking and the model
    # registry do not use) starts seven job-consumer processes that each import MLflow:
    # measured here, 20 CPU-seconds in the server's first minute with it, 9 without.
    env = {**os.environ, **s3.env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    cmd = [
        str(BIN / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{workdir / 'mlflow.db'}",
        "--artifacts-destination",
        f"s3://{s3.bucket}/mlflow-artifacts",
    ]
    proc = _start(cmd, log, env)
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait(_http_ok(f"{uri}/health"), "mlflow server", proc, 120, log)
        yield uri
    finally:
        _stop(proc)


# ------------------------------------------------------------------- Spark cluster
SPARK_HOME = Path(pyspark.__file__).parent


@dataclass(frozen=True)
class Cluster:
    """A Spark standalone master and its workers, each a JVM of its own."""

    master: str
    workers: int
    work_dir: Path
    ui: str  # the master's web UI; /json/ lists the applications it ran

    def applications(self) -> list[str]:
        """Names of the applications the master has run or runs now."""
        import json

        with urllib.request.urlopen(f"{self.ui}/json/", timeout=10) as r:
            state = json.load(r)
        return [a["name"] for a in state.get("activeapps", []) + state.get("completedapps", [])]


@contextlib.contextmanager
def spark_cluster(
    workdir: Path,
    *,
    workers: int = 2,
    cores: int = 1,
    memory: str = "2g",
    java_options: str = "",
) -> Iterator[Cluster]:
    """``spark://127.0.0.1:PORT`` with ``workers`` workers of ``cores`` cores each.

    ``java_options`` go to the master's and workers' own JVMs (SPARK_DAEMON_JAVA_OPTS).
    """
    env = {
        **os.environ,
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_DAEMON_JAVA_OPTS": java_options,
    }
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    port, ui_port = free_port(), free_port()
    master = f"spark://127.0.0.1:{port}"
    log = workdir / "master.log"
    procs = [
        _start(
            [
                spark_class,
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(ui_port),
            ],
            log,
            env,
        )
    ]
    try:
        _wait(_logged(log, "New state: ALIVE"), "spark master", procs[0], 60, log)
        for i in range(workers):
            wlog = workdir / f"worker-{i}.log"
            wdir = workdir / f"worker-{i}"
            wdir.mkdir(exist_ok=True)
            procs.append(
                _start(
                    [
                        spark_class,
                        "org.apache.spark.deploy.worker.Worker",
                        master,
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        str(cores),
                        "--memory",
                        memory,
                        "--webui-port",
                        str(free_port()),
                        "--work-dir",
                        str(wdir),
                    ],
                    wlog,
                    env,
                )
            )
        for i in range(workers):
            wlog = workdir / f"worker-{i}.log"
            _wait(
                _logged(wlog, "Successfully registered with master"),
                f"spark worker {i}",
                procs[i + 1],
                60,
                wlog,
            )
        yield Cluster(master, workers, workdir, f"http://127.0.0.1:{ui_port}")
    finally:
        for proc in reversed(procs):
            _stop(proc)
