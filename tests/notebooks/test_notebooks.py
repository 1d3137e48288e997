"""Both notebooks run top to bottom (nbclient) against a lake the pipeline built."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from shoprec.config import Settings
from shoprec.pipeline.nightly import NightReport

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["exploration", "model_report"])
def test_notebook_runs(
    name: str,
    nights_conf: Settings,
    nights: list[NightReport],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conf = tmp_path / "conf.yaml"
    conf.write_text(yaml.safe_dump(nights_conf.model_dump(mode="json")))
    monkeypatch.setenv("SHOPREC_CONF", str(conf))
    monkeypatch.setenv("SHOPREC_LAKE", nights_conf.lake.root)
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(
        book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{name} drew no chart"
