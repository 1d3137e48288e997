"""Tiny test DataFrames, built through pandas and Arrow so queries need no Python workers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, SparkSession


def frame(spark: SparkSession, rows: Sequence[tuple[Any, ...]], ddl: str) -> DataFrame:
    """A DataFrame of ``rows`` with the schema ``ddl`` ("name type, name type, ...")."""
    names = [part.strip().split(" ", 1)[0] for part in ddl.split(",")]
    return spark.createDataFrame(pd.DataFrame(list(rows), columns=names), ddl)
