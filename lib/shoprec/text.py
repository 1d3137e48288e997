"""Text normalization: one tokenizer for catalog titles, the search index and queries.

:func:`normalize_text` folds a string (Unicode NFKC, case folding, punctuation to
spaces, whitespace collapsed); :func:`tokenize` splits the folded text into words,
with runs of Chinese or Japanese characters, which are written without spaces,
turned into overlapping character bigrams. The same Python function runs on the
driver for a live query and in executors (a pandas UDF) for catalog text, so an
index term and a query term can never be folded differently.

>>> tokenize("iPhone 15 保护壳")
['iphone', '15', '保护', '护壳']
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

# Scripts written without spaces between words: Han (with extensions and
# compatibility ideographs), Hiragana, Katakana and the prolonged sound mark.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_SPACES = re.compile(r"\s+")


def normalize_text(text: str | None) -> str:
    """NFKC, case-folded, every run of non-letters/digits a single space, trimmed.

    ``"  Xiaomi   Phone-Case!! "`` -> ``"xiaomi phone case"``; full-width letters and
    digits become ASCII ones (NFKC). None gives "".
    """
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", text).casefold()
    words = _TOKEN.findall(folded)
    return _SPACES.sub(" ", " ".join(words)).strip()


def _bigrams(run: str) -> list[str]:
    if len(run) < 2:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def tokenize(text: str | None) -> list[str]:
    """Tokens of ``text`` after :func:`normalize_text`: words, and CJK runs as bigrams.

    A lone CJK character is kept as it is; Hangul is written with spaces and is
    split into words like Latin text. ``"小米 手机"`` -> ``["小米", "手机"]``.
    """
    out: list[str] = []
    for token in _TOKEN.findall(unicodedata.normalize("NFKC", text or "").casefold()):
        out.extend(_bigrams(token) if _CJK_RUN.fullmatch(token) else [token])
    return out


@F.pandas_udf(StringType())  # type: ignore[call-overload]
def _normalize_udf(texts: pd.Series) -> pd.Series:
    return texts.map(lambda t: None if t is None else normalize_text(t))


@F.pandas_udf(ArrayType(StringType()))  # type: ignore[call-overload]
def _tokenize_udf(texts: pd.Series) -> pd.Series:
    return texts.map(lambda t: None if t is None else tokenize(t))


def normalize_col(text: Column) -> Column:
    """:func:`normalize_text` as a Spark column (null stays null)."""
    return _normalize_udf(text)


def tokens_col(text: Column) -> Column:
    """:func:`tokenize` as a Spark column of ``array<string>`` (null stays null)."""
    return _tokenize_udf(text)


def title_tokens(title: Column) -> Column:
    """Lower-cased words of a title; CJK runs become character bigrams (see :func:`tokenize`).

    ``"iPhone 15 保护壳"`` -> ``["iphone", "15", "保护", "护壳"]``.
    """
    return tokens_col(title)
