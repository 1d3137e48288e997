"""Run suites on Spark DataFrames with Great Expectations and keep the results.

Only this package imports great_expectations. Results come back as plain
:class:`Outcome` objects; the caller stores their JSON and decides what a
blocking failure stops. Data docs are built by a file-backed GX context in a
temporary local folder that holds tonight's results only; the caller copies the
site wherever the lake keeps it (object storage included) and closes the validator.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from great_expectations.data_context import AbstractDataContext
from pyspark.sql import DataFrame

from shoprec.quality.suites import BLOCKING, Suite

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# GX's BASIC result without its sample of unexpected values (a limit 0 Spark plans away).
COUNTS_ONLY = {"result_format": "BASIC", "partial_unexpected_count": 0}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """One suite's result on one frame."""

    suite: str
    success: bool
    evaluated: int
    blocking_failures: tuple[str, ...]
    warnings: tuple[str, ...]
    result: dict[str, Any] = field(repr=False)

    @property
    def blocking(self) -> bool:
        """Whether a blocking (critical) expectation failed."""
        return bool(self.blocking_failures)

    @property
    def status(self) -> str:
        """``passed``, ``warning`` or ``failed`` (blocking)."""
        if self.blocking:
            return "failed"
        return "warning" if self.warnings else "passed"

    def to_json(self) -> str:
        return json.dumps(self.result, default=str)


def _describe(res: Any) -> str:
    cfg = res.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id",)}
    col = kwargs.pop("column", None)
    if "observed_value" in res.result:
        observed = f"observed {res.result['observed_value']}"
    else:
        sample = res.result.get("partial_unexpected_list", [])[:3]
        observed = f"{res.result.get('unexpected_count')} unexpected, e.g. {sample}"
    where = f"({col})" if col else ""
    return f"{cfg.type}{where}: {observed}"


class Validator:
    """A GX context for one run: validate frames, then build the data docs.

    Example::

        with Validator(docs=True) as v:
            outcome = v.validate(df, silver_items_suite())
            site = v.build_docs()  # a local folder with index.html; copy it somewhere
    """

    def __init__(self, *, docs: bool) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self.context: AbstractDataContext
        self._workdir: str | None = None
        if docs:
            self._workdir = tempfile.mkdtemp(prefix="shoprec-gx-")
            self.context = gx.get_context(mode="file", project_root_dir=self._workdir)
        else:
            self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._source = self.context.data_sources.add_or_update_spark(name="shoprec")

    def __enter__(self) -> Validator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the local working folder (the built site with it)."""
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def validate(self, df: DataFrame, suite: Suite) -> Outcome:
        """Run ``suite`` on ``df`` (cache it first if it is expensive)."""
        gx = self._gx
        asset_name = suite.name
        try:
            asset = self._source.get_asset(asset_name)
        except LookupError:
            asset = self._source.add_dataframe_asset(name=asset_name)
        try:
            batch_def = asset.get_batch_definition("whole")
        except (KeyError, LookupError, ValueError):
            batch_def = asset.add_batch_definition_whole_dataframe("whole")
        gx_suite = gx.ExpectationSuite(name=suite.name)
        for exp in suite.expectations:
            gx_suite.add_expectation(exp)
        gx_suite = self.context.suites.add_or_update(gx_suite)
        vd = self.context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite.name, data=batch_def, suite=gx_suite)
        )
        started = time.perf_counter()
        # Counts and observed values only: a sample of unexpected values costs a Spark
        # job per column check, so it is fetched (SUMMARY) only when something failed,
        # for the failure's message and the data docs.
        result = vd.run(batch_parameters={"dataframe": df}, result_format=COUNTS_ONLY)
        if not result.success:
            result = vd.run(batch_parameters={"dataframe": df}, result_format="SUMMARY")
        log.info(
            "%s: %d expectations in %.1fs",
            suite.name,
            len(result.results),
            time.perf_counter() - started,
        )
        blocking: list[str] = []
        warnings: list[str] = []
        for res in result.results:
            if res.success:
                continue
            severity = getattr(res.expectation_config, "severity", None) or BLOCKING
            (blocking if severity == BLOCKING else warnings).append(_describe(res))
        return Outcome(
            suite=suite.name,
            success=bool(result.success),
            evaluated=len(result.results),
            blocking_failures=tuple(blocking),
            warnings=tuple(warnings),
            result=result.to_json_dict(),
        )

    def build_docs(self) -> Path | None:
        """Build the HTML data docs of this run's results; returns the site's local folder."""
        if self._workdir is None:
            return None
        self.context.build_data_docs()
        urls = self.context.get_docs_sites_urls()
        if not urls:
            return None
        return Path(str(urls[0]["site_url"]).removeprefix("file://")).parent
