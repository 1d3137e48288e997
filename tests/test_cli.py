"""The command line: one-line errors and exit codes, on bad input of every kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from shoprec.cli import main
from tests.conftest import TEST_KEY


def conf_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "conf.yaml"
    path.write_text(
        f"lake: {{root: {tmp_path / 'lake'}}}\n"
        f"privacy: {{key: {TEST_KEY}}}\n"
        "sources:\n"
        f"  - {{name: shop, format: canonical, events: '{tmp_path}/in/date={{date}}'}}\n" + extra
    )
    return path


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("shoprec: error: ") and "\n" not in err, err
    return err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["nightly", "--conf", "{conf}", "--date", "2026-02-30"], "bad date '2026-02-30'"),
        (["run", "deploy", "--conf", "{conf}", "--date", "2026-11-01"], "unknown stage 'deploy'"),
        (
            ["nightly", "--conf", "{tmp}/missing.yaml", "--date", "2026-11-01"],
            "config file not found",
        ),
        (["generate", "--out", "{tmp}/shop", "--users", "0"], "users must be > 0"),
        (
            [
                "ingest",
                "--source",
                "xml",
                "--path",
                "x",
                "--conf",
                "{conf}",
                "--date",
                "2026-11-01",
            ],
            "unknown source format 'xml'",
        ),
        (["benchmark", "--train", "{tmp}/none.txt", "--test", "{tmp}/none.txt"], "no such file"),
        (
            ["run", "evaluate", "--conf", "{conf}", "--date", "2026-11-01", "--models", "ease"],
            "--models applies to the train stage only",
        ),
        (
            ["run", "train", "--conf", "{conf}", "--date", "2026-11-01", "--models", "ease,bert"],
            "unknown model 'bert'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    conf = conf_file(tmp_path)
    args = [a.format(conf=conf, tmp=tmp_path) for a in argv]
    assert main(args) == 2
    assert expected in one_line_error(capsys)


def test_train_task_for_disabled_models_does_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The DAG's per-model train tasks exist whatever the conf enables; disabled ones pass."""
    conf = conf_file(tmp_path, "models: {enabled: [popularity]}\n")
    argv = ["run", "train", "--conf", str(conf), "--date", "2026-11-01", "--models", "sasrec"]
    assert main(argv) == 0
    assert "nothing to train" in capsys.readouterr().out
    assert not (tmp_path / "lake").exists()


def test_unknown_config_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = conf_file(tmp_path, "cleaning: {session_gap: 5}\n")
    assert main(["nightly", "--conf", str(conf), "--date", "2026-11-01"]) == 2
    assert "cleaning.session_gap: unknown key" in one_line_error(capsys)


def test_missing_input_path(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = conf_file(tmp_path)
    assert main(["run", "ingest", "--conf", str(conf), "--date", "2026-11-01"]) == 2
    err = one_line_error(capsys)
    assert "sources[0].events (shop): input path not found" in err
    assert not (tmp_path / "lake" / "bronze").exists()


def test_generate_then_ingest_and_status(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = tmp_path / "shop"
    assert (
        main(["generate", "--out", str(shop), "--users", "30", "--items", "20", "--days", "1"]) == 0
    )
    manifest = json.loads((shop / "manifest.json").read_text())
    conf = conf_file(tmp_path)
    argv = ["ingest", "--source", "canonical", "--path", str(shop / "events" / "date=2026-11-01")]
    assert main([*argv, "--conf", str(conf), "--date", "2026-11-01"]) == 0
    assert f"bronze.events {manifest['days'][0]['lines']:,} rows" in capsys.readouterr().out
    assert main(["status", "--conf", str(conf), "--date", "2026-11-01"]) == 0
    out = capsys.readouterr().out
    assert "ingest" in out and "success" in out
    assert main(["status", "--conf", str(conf), "--date", "2026-11-02"]) == 1


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["recs", "--user", "u1", "--bogus"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_a_dead_spark_jvm_is_one_line_not_an_internal_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the JVM dies (a StackOverflowError, the OOM killer), py4j's socket is refused."""
    import shoprec.cli

    def jvm_gone(args: object) -> int:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(shoprec.cli, "cmd_status", jvm_gone)
    assert main(["status", "--conf", str(conf_file(tmp_path)), "--date", "2026-11-01"]) == 2
    assert "Spark driver JVM stopped answering" in one_line_error(capsys)
