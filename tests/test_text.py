from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from shoprec.text import normalize_col, normalize_text, tokenize, tokens_col

CASES = [
    ("iPhone 15 保护壳", ["iphone", "15", "保护", "护壳"]),
    ("\uff38\uff49\uff41\uff4f\uff4d\uff49 \uff11\uff15", ["xiaomi", "15"]),  # full-width
    ("Nike Air-Max 90, Men's", ["nike", "air", "max", "90", "men", "s"]),
    ("小米Redmi手机", ["小米", "redmi", "手机"]),
    ("STRASSE Straße", ["strasse", "strasse"]),  # case folding, not just lower()
    ("t_shirts / T-Shirt", ["t", "shirts", "t", "shirt"]),
    ("鞋", ["鞋"]),
    ("カメラ", ["カメ", "メラ"]),
    ("한국어 문장", ["한국어", "문장"]),
    ("  \t ", []),
]


@pytest.mark.parametrize(("text", "tokens"), CASES)
def test_tokenize(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


def test_normalize_text_folds_width_case_punctuation_and_spaces() -> None:
    assert normalize_text("  \uff38\uff49\uff41\uff4f\uff4d\uff49   Phone-Case!! ") == (
        "xiaomi phone case"
    )
    assert normalize_text("小米\uff0c手机\u3002") == "小米 手机"  # full-width punctuation
    assert normalize_text(None) == "" and normalize_text("?!") == ""


def test_spark_columns_run_the_same_tokenizer(spark: SparkSession) -> None:
    texts = [t for t, _ in CASES]
    df = spark.createDataFrame(
        [(i, t) for i, t in enumerate(texts)] + [(99, None)], "n int, t string"
    )
    got = df.orderBy("n").select(tokens_col(F.col("t")), normalize_col(F.col("t"))).collect()
    assert [r[0] for r in got] == [*[tokens for _, tokens in CASES], None]
    assert [r[1] for r in got] == [*[normalize_text(t) for t in texts], None]
