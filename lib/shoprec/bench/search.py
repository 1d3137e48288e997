"""Search benchmark: index build time and ranking time per thousand queries, by catalog size.

    python -m shoprec.bench.search --items 1000 5000 20000 --queries 1000 [--json out.json]

For each size a synthetic catalog (:mod:`shoprec.synthetic`) is indexed with
:func:`~shoprec.search.index.build_index` and the three index tables are written to a
temporary Delta lake (timed: ``index_s``). Then ``--queries`` queries drawn like the
synthetic shoppers' (head, brand, long-tail and Chinese; typos and synonyms) are
ranked through :func:`~shoprec.search.engine.rank_queries`, top 50 per query,
materialized with a ``noop`` write:

* ``bm25_s``: BM25 only (candidates, features, BM25 order);
* ``ranker_s``: the same with a LightGBM lambdarank model scored in ``mapInPandas``
  (trained untimed on a few hundred other queries, relevant = the query's leaf).

No search logs: rewrites, query categories and CTRs are empty, as on a new shop.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shoprec import schemas as S
from shoprec.config import SearchConfig, Settings
from shoprec.lake import Lake
from shoprec.models.scoring import collect_pandas
from shoprec.search.engine import Index, Learned, candidates, rank_queries
from shoprec.search.features import FEATURES, item_signals
from shoprec.search.index import build_index
from shoprec.search.ranker import RankerParams, train_ranker
from shoprec.spark import build_spark
from shoprec.synthetic import ShopSpec
from shoprec.synthetic.catalog import build_catalog, iter_snapshots
from shoprec.synthetic.search import sample_queries
from shoprec.synthetic.vocab import LEAVES

AS_OF = dt.date(2026, 11, 1)
TRAIN_QUERIES = 300


def _catalog(spark: SparkSession, items: int, seed: int) -> tuple[DataFrame, list[tuple[str, int]]]:
    spec = ShopSpec(users=10, items=items, days=1, seed=seed)
    catalog = build_catalog(spec)
    snap = next(iter_snapshots(catalog, spec))
    rows = [
        (
            catalog.ids[i],
            catalog.title[i],
            catalog.description[i],
            LEAVES[int(catalog.leaf[i])].path,
            catalog.brand[i].name,
            float(snap.price[i]),
            bool(snap.available[i]),
            float(snap.weight[i]),
        )
        for i in np.flatnonzero(snap.present).tolist()
    ]
    df = spark.createDataFrame(
        rows,
        "item_id string, title string, description string, category_path string, "
        "brand string, price double, available boolean, popularity double",
    )
    rng = np.random.default_rng(seed)
    return df, sample_queries(catalog, snap, 1000 + TRAIN_QUERIES, rng)


def _learned(spark: SparkSession, items: DataFrame) -> Learned:
    feats = items.select(
        S.ITEM_ID,
        S.CATEGORY_PATH,
        S.AVAILABLE,
        S.PRICE,
        F.col("popularity"),
        F.lit(0.1).alias("conversion_rate"),
    )
    empty = spark.createDataFrame(
        [], "query_norm string, related_query string, relation string, similarity double"
    )
    return Learned(
        rewrites=empty,
        categories=spark.createDataFrame([], S.QUERY_CATEGORIES),
        ctr=spark.createDataFrame([], "query_norm string, item_id string, clicks long, ctr double"),
        prior_ctr=0.05,
        items=item_signals(feats).cache(),
    )


def _queries(spark: SparkSession, queries: list[tuple[str, int]]) -> DataFrame:
    from shoprec.text import normalize_text

    rows = [(normalize_text(q), LEAVES[leaf].path) for q, leaf in queries]
    return spark.createDataFrame(rows, "query_norm string, leaf string").where(
        "length(query_norm) > 0"
    )


def _noop(df: DataFrame) -> None:
    df.write.format("noop").mode("overwrite").save()


def run_size(
    spark: SparkSession, lake: Lake, items: int, n_queries: int, *, seed: int, cfg: SearchConfig
) -> dict[str, Any]:
    """Time the index build and both ranking paths for one catalog size.

    Every size writes to the same ``lake`` (catalog entries stay valid), each under
    its own ``as_of`` partition.
    """
    catalog, sampled = _catalog(spark, items, seed)
    catalog = catalog.cache()
    n_items = catalog.count()
    as_of = AS_OF + dt.timedelta(days=items)
    started = time.perf_counter()
    for name, df in build_index(catalog, as_of=as_of).items():
        lake.replace(df, name, where={S.AS_OF_DATE: as_of})
    index_s = time.perf_counter() - started
    index = Index(
        *(
            lake.read(n).where(F.col(S.AS_OF_DATE) == F.lit(as_of)).cache()
            for n in ("gold.search_postings", "gold.search_terms", "gold.search_field_stats")
        )
    )
    for df in (index.postings, index.terms, index.stats):  # untimed: read into memory
        df.count()
    learned = _learned(spark, catalog)
    train_q = _queries(spark, sampled[:TRAIN_QUERIES])
    test_q = _queries(spark, sampled[TRAIN_QUERIES : TRAIN_QUERIES + n_queries]).cache()
    n_q = test_q.count()
    cands = candidates(train_q, index, learned, cfg=cfg).join(train_q, S.QUERY_NORM)
    frame = collect_pandas(
        cands.select(
            F.col(S.QUERY_NORM).alias(S.SEARCH_ID),
            S.ITEM_ID,
            (F.col(S.CATEGORY_PATH) == F.col("leaf")).cast("int").alias("label"),
            *FEATURES,
        )
    )
    model = train_ranker(frame, features=FEATURES, params=RankerParams(num_trees=100))
    _noop(rank_queries(test_q.limit(20), index, learned, model, cfg=cfg, k=50))  # warm-up
    timings = {}
    for label, m in (("bm25_s", None), ("ranker_s", model)):
        started = time.perf_counter()
        _noop(rank_queries(test_q, index, learned, m, cfg=cfg, k=50))
        timings[label] = time.perf_counter() - started
    postings = index.postings.count()
    for df in (catalog, test_q, learned.items, *(index.postings, index.terms, index.stats)):
        df.unpersist()
    per_k = 1000.0 / max(n_q, 1)
    return {
        "items": n_items,
        "postings": postings,
        "queries": n_q,
        "index_s": round(index_s, 2),
        "bm25_s_per_1k_queries": round(timings["bm25_s"] * per_k, 2),
        "ranker_s_per_1k_queries": round(timings["ranker_s"] * per_k, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: run every size once, print a table (and optionally save JSON)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.items) or args.queries < 1:
        parser.error("--items and --queries must be positive")
    settings = Settings()
    spark = build_spark(settings.spark)
    with tempfile.TemporaryDirectory() as tmp:
        lake = Lake(spark, str(Path(tmp) / "lake"))
        results = [
            run_size(spark, lake, n, args.queries, seed=args.seed, cfg=settings.search)
            for n in args.items
        ]
    print(f"{'items':>8} {'postings':>9} {'index s':>8} {'BM25 s/1k q':>12} {'ranker s/1k q':>14}")
    for r in results:
        print(
            f"{r['items']:>8,} {r['postings']:>9,} {r['index_s']:>8.2f} "
            f"{r['bm25_s_per_1k_queries']:>12.2f} {r['ranker_s_per_1k_queries']:>14.2f}"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
