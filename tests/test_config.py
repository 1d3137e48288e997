from __future__ import annotations

from pathlib import Path

import pytest

from shoprec.config import Settings, deep_merge, load_settings
from shoprec.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_repo_configs_load() -> None:
    local = load_settings(REPO / "conf" / "local.yaml")
    assert local.spark.master == "local[2]"
    assert local.sources[0].format == "canonical"
    prod = load_settings(REPO / "conf" / "prod.example.yaml")
    assert prod.spark.master is None
    assert prod.lake.root.startswith("s3a://")
    bench = load_settings(REPO / "conf" / "benchmark.yaml")
    assert bench.spark.master == "local[2]" and bench.models.neural.batch_size == 2048
    # the overlay keeps what base.yaml says and it does not override
    assert prod.cleaning.session_gap_minutes == local.cleaning.session_gap_minutes == 30


def test_overlay_merges_mappings(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "cleaning:\n  session_gap_minutes: 20\n  max_lateness_days: 2\n")
    overlay = write(
        tmp_path / "env.yaml", "extends: base.yaml\ncleaning:\n  max_lateness_days: 5\n"
    )
    s = load_settings(overlay)
    assert (s.cleaning.session_gap_minutes, s.cleaning.max_lateness_days) == (20, 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lake:\n  roots: x\n", "lake.roots: unknown key"),
        ("cleaning:\n  session_gap_minutes: soon\n", "cleaning.session_gap_minutes:"),
        ("cleaning:\n  session_gap_minutes: -1\n", "cleaning.session_gap_minutes:"),
        ("sources:\n  - {name: a, format: csv}\n", "sources.0.format:"),
        ("extends: nowhere.yaml\n", "config file not found"),
        ("lake: [1, 2\n", "not valid YAML"),
        ("- just a list\n", "top level must be a mapping"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_key_comes_from_environment_first(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings().with_overrides({"privacy": {"key": "from-conf-0123456789"}})
    assert s.privacy.resolve_key() == "from-conf-0123456789"
    monkeypatch.setenv("SHOPREC_PSEUDONYMIZATION_KEY", "from-env-0123456789")
    assert s.privacy.resolve_key() == "from-env-0123456789"


def test_the_key_is_not_in_the_settings_repr() -> None:
    s = Settings().with_overrides({"privacy": {"key": "from-conf-0123456789"}})
    assert "from-conf-0123456789" not in repr(s) and "from-conf-0123456789" not in str(s)
    assert s.with_overrides({}).privacy.key == "from-conf-0123456789"


def test_no_key_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOPREC_PSEUDONYMIZATION_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"privacy\.key"):
        Settings().privacy.resolve_key()


def test_deep_merge_replaces_lists_and_scalars() -> None:
    assert deep_merge({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}}) == {"a": {"b": 1, "c": [2]}}
