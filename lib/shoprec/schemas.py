"""The one schema vocabulary: column names, allowed values and a StructType per table.

Every module names columns through this file. A table's layer is in its name
(``bronze.events``, ``silver.events``, ``gold.user_recommendations``), and the
:data:`TABLES` registry says how each table is partitioned and keyed; the lake
module resolves names to paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

# ---------------------------------------------------------------- event types
VIEW = "view"
ADD_TO_CART = "add_to_cart"
REMOVE_FROM_CART = "remove_from_cart"
PURCHASE = "purchase"
SEARCH = "search"
SEARCH_CLICK = "search_click"
EVENT_TYPES: tuple[str, ...] = (VIEW, ADD_TO_CART, REMOVE_FROM_CART, PURCHASE, SEARCH, SEARCH_CLICK)
# Event types that are about one item (the others carry a query).
ITEM_EVENT_TYPES: tuple[str, ...] = (VIEW, ADD_TO_CART, REMOVE_FROM_CART, PURCHASE, SEARCH_CLICK)
QUANTITY_EVENT_TYPES: tuple[str, ...] = (ADD_TO_CART, REMOVE_FROM_CART, PURCHASE)

# ------------------------------------------------------------- quarantine reasons
MALFORMED_RECORD = "malformed_record"  # not parseable in its source format
MISSING_FIELD = "missing_required_field"
INVALID_TYPE = "invalid_type"  # a field present but not convertible to its type
UNKNOWN_EVENT_TYPE = "unknown_event_type"
BAD_TIMESTAMP = "bad_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
STALE_TIMESTAMP = "stale_timestamp"
NEGATIVE_PRICE = "negative_price"
INVALID_QUANTITY = "invalid_quantity"
UNKNOWN_ITEM = "unknown_item"
BOT_TRAFFIC = "bot_traffic"
REASONS: tuple[str, ...] = (
    MALFORMED_RECORD,
    MISSING_FIELD,
    INVALID_TYPE,
    UNKNOWN_EVENT_TYPE,
    BAD_TIMESTAMP,
    FUTURE_TIMESTAMP,
    STALE_TIMESTAMP,
    NEGATIVE_PRICE,
    INVALID_QUANTITY,
    UNKNOWN_ITEM,
    BOT_TRAFFIC,
)

# ------------------------------------------------------------------- columns
EVENT_ID = "event_id"
EVENT_TYPE = "event_type"
USER_ID = "user_id"
SESSION_ID = "session_id"
ITEM_ID = "item_id"
QUANTITY = "quantity"
PRICE = "price"
CURRENCY = "currency"
QUERY = "query"
RESULTS = "results"
SEARCH_ID = "search_id"
POSITION = "position"
EVENT_TS = "event_ts"
EVENT_DATE = "event_date"
USER_AGENT = "user_agent"

TITLE = "title"
DESCRIPTION = "description"
CATEGORY_PATH = "category_path"
BRAND = "brand"
AVAILABLE = "available"
ADDED_DATE = "added_date"
SNAPSHOT_DATE = "snapshot_date"

RECORD = "record"  # a raw record exactly as received
SOURCE = "source"  # the configured source name
SOURCE_FORMAT = "source_format"
SOURCE_FILE = "source_file"
INGEST_DATE = "ingest_date"
INGESTED_AT = "ingested_at"
RUN_ID = "run_id"

REASON = "reason"
DETAIL = "detail"
ENTITY = "entity"  # which kind of record was quarantined: event or item
QUARANTINED_AT = "quarantined_at"

# Personal data that may arrive in bronze and must never pass it.
PII_FIELDS: tuple[str, ...] = ("email", "ip", "name", "first_name", "last_name", "phone", "address")


def _s(*fields: tuple[str, DataType, bool]) -> StructType:
    return StructType([StructField(n, t, nullable) for n, t, nullable in fields])


BRONZE = _s(
    (RECORD, StringType(), True),
    (SOURCE, StringType(), False),
    (SOURCE_FORMAT, StringType(), False),
    (SOURCE_FILE, StringType(), True),
    (INGESTED_AT, TimestampType(), False),
    (RUN_ID, StringType(), False),
    (INGEST_DATE, DateType(), False),
)

# What every source adapter turns a bronze record into, before cleaning rules.
# user_agent is kept here for bot rules and dropped before silver.
CANONICAL_EVENT = _s(
    (EVENT_ID, StringType(), True),
    (EVENT_TYPE, StringType(), True),
    (USER_ID, StringType(), True),
    (SESSION_ID, StringType(), True),
    (ITEM_ID, StringType(), True),
    (QUANTITY, IntegerType(), True),
    (PRICE, DoubleType(), True),
    (CURRENCY, StringType(), True),
    (QUERY, StringType(), True),
    (RESULTS, ArrayType(StringType()), True),
    (SEARCH_ID, StringType(), True),
    (POSITION, IntegerType(), True),
    (EVENT_TS, TimestampType(), True),
    (USER_AGENT, StringType(), True),
)

SILVER_EVENTS = _s(
    (EVENT_ID, StringType(), False),
    (EVENT_TYPE, StringType(), False),
    (USER_ID, StringType(), False),
    (SESSION_ID, StringType(), False),
    (ITEM_ID, StringType(), True),
    (QUANTITY, IntegerType(), True),
    (PRICE, DoubleType(), True),
    (CURRENCY, StringType(), True),
    (QUERY, StringType(), True),
    (RESULTS, ArrayType(StringType()), True),
    (SEARCH_ID, StringType(), True),
    (POSITION, IntegerType(), True),
    (EVENT_TS, TimestampType(), False),
    (EVENT_DATE, DateType(), False),
    (SOURCE, StringType(), False),
    (RUN_ID, StringType(), False),
    (INGEST_DATE, DateType(), False),
)

CANONICAL_ITEM = _s(
    (ITEM_ID, StringType(), True),
    (TITLE, StringType(), True),
    (DESCRIPTION, StringType(), True),
    (CATEGORY_PATH, StringType(), True),
    (BRAND, StringType(), True),
    (PRICE, DoubleType(), True),
    (CURRENCY, StringType(), True),
    (AVAILABLE, BooleanType(), True),
    (ADDED_DATE, DateType(), True),
)

SILVER_ITEMS = _s(
    (ITEM_ID, StringType(), False),
    (TITLE, StringType(), False),
    (DESCRIPTION, StringType(), True),
    (CATEGORY_PATH, StringType(), False),
    (BRAND, StringType(), True),
    (PRICE, DoubleType(), True),
    (CURRENCY, StringType(), True),
    (AVAILABLE, BooleanType(), False),
    (ADDED_DATE, DateType(), True),
    (SOURCE, StringType(), False),
    (RUN_ID, StringType(), False),
    (SNAPSHOT_DATE, DateType(), False),
)

QUARANTINE = _s(
    (ENTITY, StringType(), False),
    (SOURCE, StringType(), False),
    (REASON, StringType(), False),
    (DETAIL, StringType(), True),
    (RECORD, StringType(), True),
    (SOURCE_FILE, StringType(), True),
    (RUN_ID, StringType(), False),
    (QUARANTINED_AT, TimestampType(), False),
    (INGEST_DATE, DateType(), False),
)

RUNS = _s(
    (RUN_ID, StringType(), False),
    ("run_date", DateType(), False),
    ("stage", StringType(), False),
    ("status", StringType(), False),
    ("started_at", TimestampType(), False),
    ("ended_at", TimestampType(), True),
    ("rows_in", LongType(), True),
    ("rows_out", LongType(), True),
    ("rows_quarantined", LongType(), True),
    ("rows_duplicate", LongType(), True),
    ("validation", StringType(), True),
    ("model_version", StringType(), True),
    ("message", StringType(), True),
)

VALIDATIONS = _s(
    (RUN_ID, StringType(), False),
    ("run_date", DateType(), False),
    ("table_name", StringType(), False),
    ("suite", StringType(), False),
    ("success", BooleanType(), False),
    ("blocking_failures", IntegerType(), False),
    ("evaluated", IntegerType(), False),
    ("failed_expectations", ArrayType(StringType()), False),
    ("result_json", StringType(), False),
    ("validated_at", TimestampType(), False),
)


# ------------------------------------------------------------------ gold
AS_OF_DATE = "as_of_date"  # features computed from silver up to and including this date
WEIGHT = "weight"
LAST_TS = "last_ts"  # optional model input column: when the user last touched the item
USER_IDX = "user_idx"
ITEM_IDX = "item_idx"
SIMILAR_ITEM_ID = "similar_item_id"
SCORE = "score"
RANK = "rank"
CATEGORY = "category"
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
GENERATED_AT = "generated_at"

INTERACTIONS = _s(
    (USER_ID, StringType(), False),
    (ITEM_ID, StringType(), False),
    (WEIGHT, DoubleType(), False),  # implicit feedback: event-type weights with time decay
    ("events", LongType(), False),
    ("purchases", LongType(), False),
    ("last_event_ts", TimestampType(), False),
    (AS_OF_DATE, DateType(), False),
)

ID_MAP = _s(
    (ENTITY, StringType(), False),  # "user" or "item"
    ("id", StringType(), False),
    ("idx", LongType(), False),  # stable across nights; new ids are appended
    ("first_seen", DateType(), False),
)

USER_ITEM_EDGES = _s(
    (USER_IDX, LongType(), False),
    (ITEM_IDX, LongType(), False),
    (WEIGHT, DoubleType(), False),
    (AS_OF_DATE, DateType(), False),
)

ITEM_COOCCURRENCE = _s(
    (ITEM_ID, StringType(), False),
    (SIMILAR_ITEM_ID, StringType(), False),
    ("co_view", LongType(), False),  # sessions in which both were viewed
    ("co_cart", LongType(), False),
    ("co_purchase", LongType(), False),
    (SCORE, DoubleType(), False),  # weighted, normalized association strength
    (AS_OF_DATE, DateType(), False),
)

ITEM_FEATURES = _s(
    (ITEM_ID, StringType(), False),
    (CATEGORY_PATH, StringType(), True),
    ("category_l1", StringType(), True),
    (BRAND, StringType(), True),
    (PRICE, DoubleType(), True),
    ("price_band", IntegerType(), True),  # price quintile within its top-level category, 1..5
    ("title_tokens", ArrayType(StringType()), True),
    (AVAILABLE, BooleanType(), True),
    (ADDED_DATE, DateType(), True),
    ("views", LongType(), False),
    ("carts", LongType(), False),
    ("purchases", LongType(), False),
    ("popularity", DoubleType(), False),  # decayed interaction weight over all users
    ("trend", DoubleType(), False),  # last 7 days' events over the 28 before, smoothed
    ("conversion_rate", DoubleType(), False),  # purchases / views, smoothed
    (AS_OF_DATE, DateType(), False),
)

USER_FEATURES = _s(
    (USER_ID, StringType(), False),
    ("recency_days", IntegerType(), False),
    ("frequency", LongType(), False),  # sessions
    ("monetary", DoubleType(), False),  # purchase value
    ("events", LongType(), False),
    ("category_affinity", MapType(StringType(), DoubleType()), False),  # top-level share
    ("top_category", StringType(), True),
    ("price_band", IntegerType(), True),  # median price band of what they buy or cart
    (AS_OF_DATE, DateType(), False),
)

USER_SEQUENCES = _s(
    (USER_ID, StringType(), False),
    ("item_ids", ArrayType(StringType()), False),  # oldest first, last N item events
    ("event_types", ArrayType(StringType()), False),
    ("event_ts", ArrayType(TimestampType()), False),
    (AS_OF_DATE, DateType(), False),
)

USER_RECOMMENDATIONS = _s(
    (USER_ID, StringType(), False),
    (RANK, IntegerType(), False),
    (ITEM_ID, StringType(), False),
    (SCORE, DoubleType(), False),
    ("reason", StringType(), False),
    (MODEL_NAME, StringType(), False),
    (MODEL_VERSION, StringType(), False),
    (RUN_ID, StringType(), False),
    (GENERATED_AT, TimestampType(), False),
)

SIMILAR_ITEMS = _s(
    (ITEM_ID, StringType(), False),
    (RANK, IntegerType(), False),
    (SIMILAR_ITEM_ID, StringType(), False),
    (SCORE, DoubleType(), False),
    ("reason", StringType(), False),
    (MODEL_VERSION, StringType(), False),
    (RUN_ID, StringType(), False),
)

POPULAR_ITEMS = _s(
    (CATEGORY, StringType(), False),  # "all" for the whole shop
    (RANK, IntegerType(), False),
    (ITEM_ID, StringType(), False),
    (SCORE, DoubleType(), False),
    (RUN_ID, StringType(), False),
)

METRICS = _s(
    (RUN_ID, StringType(), False),
    ("run_date", DateType(), False),
    (MODEL_NAME, StringType(), False),
    (MODEL_VERSION, StringType(), True),
    ("protocol", StringType(), False),  # e.g. time_split, leave_one_out
    ("segment", StringType(), False),  # all, warm_users, cold_users, ...
    ("metric", StringType(), False),  # e.g. ndcg@20
    ("value", DoubleType(), False),
    ("recorded_at", TimestampType(), False),
)


# ------------------------------------------------------------------ gold: search
# Site search (shoprec.search): the lexical index per date, what is learned from
# search logs per date, and the serving tables the shop reads.
QUERY_NORM = "query_norm"  # a query after shoprec.text.normalize_text
TERM = "term"
FIELD = "field"  # title, category, brand, description
TF = "tf"
DOC_LEN = "doc_len"
RELATED_QUERY = "related_query"
RELATION = "relation"  # spelling or synonym
PREFIX = "prefix"
SEARCHES = "searches"

SEARCH_POSTINGS = _s(
    (FIELD, StringType(), False),
    (TERM, StringType(), False),
    (ITEM_ID, StringType(), False),
    (TF, IntegerType(), False),  # occurrences of the term in the item's field
    (DOC_LEN, IntegerType(), False),  # tokens in the item's field
    (AS_OF_DATE, DateType(), False),
)

SEARCH_TERMS = _s(
    (FIELD, StringType(), False),
    (TERM, StringType(), False),
    ("df", LongType(), False),  # items whose field holds the term
    ("idf", DoubleType(), False),  # ln(1 + (N - df + 0.5) / (df + 0.5))
    (AS_OF_DATE, DateType(), False),
)

SEARCH_FIELD_STATS = _s(
    (FIELD, StringType(), False),
    ("n_docs", LongType(), False),
    ("avg_len", DoubleType(), False),
    (AS_OF_DATE, DateType(), False),
)

SEARCH_QUERY_REWRITES = _s(
    (QUERY_NORM, StringType(), False),
    (RELATED_QUERY, StringType(), False),  # its clicks land on the same items
    (RELATION, StringType(), False),  # spelling (a close edit) or synonym
    ("similarity", DoubleType(), False),  # cosine of the two queries' click vectors
    ("shared_clicks", LongType(), False),
    (AS_OF_DATE, DateType(), False),
)

QUERY_CATEGORIES = _s(
    ("key", StringType(), False),  # a normalized query, or a single term
    ("key_kind", StringType(), False),  # query or term
    (CATEGORY_PATH, StringType(), False),
    ("probability", DoubleType(), False),  # P(category | key) from clicks, smoothed
    ("clicks", LongType(), False),
    (AS_OF_DATE, DateType(), False),
)

SEARCH_RESULTS = _s(
    (QUERY_NORM, StringType(), False),
    (RANK, IntegerType(), False),
    (ITEM_ID, StringType(), False),
    (SCORE, DoubleType(), False),
    (REASON, StringType(), False),
    (MODEL_NAME, StringType(), False),  # search_ranker or search_bm25
    (MODEL_VERSION, StringType(), False),
    (RUN_ID, StringType(), False),
    (GENERATED_AT, TimestampType(), False),
)

QUERY_SUGGESTIONS = _s(
    (PREFIX, StringType(), False),  # a normalized prefix of a popular query
    (RANK, IntegerType(), False),
    (QUERY_NORM, StringType(), False),  # the completed query
    (SEARCHES, LongType(), False),  # its searches in the window
    (RUN_ID, StringType(), False),
)

# ------------------------------------------------------------------ gold: publications
# One row per switch of what the shop is served (shoprec.serving.publish): the Delta
# version of every serving table to read together. The row with the highest number is
# the publication served now.
PUBLICATION = "publication"
PUBLICATIONS = _s(
    (PUBLICATION, LongType(), False),  # 1, 2, 3, ...
    ("action", StringType(), False),  # publish, restore, forget
    ("changed", ArrayType(StringType(), False), False),  # the tables this switch moved
    ("tables", MapType(StringType(), LongType(), False), False),  # table -> version to read
    ("runs", MapType(StringType(), StringType(), False), False),  # table -> run of its lists
    (RUN_ID, StringType(), False),  # the run whose lists this switch put out
    ("published_at", TimestampType(), False),
)


@dataclass(frozen=True)
class TableSpec:
    """How one lake table is laid out.

    ``partition_by`` is also the unit a rerun replaces: writing a date's rows
    replaces exactly that partition (Delta ``replaceWhere``). ``stats_columns``, where
    set, are the only columns Delta keeps per-file statistics on: tables that hold raw
    text (a record as received) skip the cost of min/max over it, which no query uses.
    """

    name: str
    schema: StructType
    partition_by: tuple[str, ...] = ()
    keys: tuple[str, ...] = field(default_factory=tuple)
    description: str = ""
    stats_columns: tuple[str, ...] = ()

    @property
    def layer(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def skipping_stats(self) -> tuple[str, ...]:
        """The columns Delta keeps per-file min/max on (empty: Delta's default, all).

        Never a column of :data:`PERSONAL_COLUMNS`: statistics live in the Delta log,
        which VACUUM does not clean, so a user's id in them would outlast an erasure.
        """
        if self.stats_columns:
            return self.stats_columns
        names = [f.name for f in self.schema.fields]
        if not set(names) & set(PERSONAL_COLUMNS):
            return ()
        # Delta refuses partition columns and nested types in the list
        return tuple(
            f.name
            for f in self.schema.fields
            if f.name not in PERSONAL_COLUMNS
            and f.name not in self.partition_by
            and not isinstance(f.dataType, ArrayType | MapType | StructType)
        )


# Columns that hold a user's identity or words: pseudonyms, raw records and their
# details, session ids from the source, free-text queries, gold.id_map's ids.
PERSONAL_COLUMNS: tuple[str, ...] = (USER_ID, RECORD, DETAIL, SESSION_ID, QUERY, "id")


_RAW_STATS = (SOURCE_FORMAT, RUN_ID, INGESTED_AT)  # bronze: not the record itself

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "bronze.events",
            BRONZE,
            (INGEST_DATE, SOURCE),
            description="every event record as received, one row per record",
            stats_columns=_RAW_STATS,
        ),
        TableSpec(
            "bronze.catalog",
            BRONZE,
            (INGEST_DATE, SOURCE),
            description="every catalog record as received",
            stats_columns=_RAW_STATS,
        ),
        TableSpec(
            "silver.events",
            SILVER_EVENTS,
            (INGEST_DATE,),
            (EVENT_ID,),
            "typed, deduplicated, pseudonymized, sessionized events",
        ),
        TableSpec(
            "silver.items",
            SILVER_ITEMS,
            (SNAPSHOT_DATE,),
            (ITEM_ID, SNAPSHOT_DATE),
            "the catalog as of each day",
        ),
        TableSpec(
            "silver.quarantine",
            QUARANTINE,
            (INGEST_DATE,),
            description="every rejected record with its reason code",
            stats_columns=(ENTITY, SOURCE, REASON, RUN_ID, QUARANTINED_AT),
        ),
        TableSpec("gold.interactions", INTERACTIONS, (AS_OF_DATE,), (USER_ID, ITEM_ID)),
        TableSpec("gold.id_map", ID_MAP, (ENTITY,), (ENTITY, "id")),
        TableSpec("gold.user_item_edges", USER_ITEM_EDGES, (AS_OF_DATE,), (USER_IDX, ITEM_IDX)),
        TableSpec(
            "gold.item_cooccurrence", ITEM_COOCCURRENCE, (AS_OF_DATE,), (ITEM_ID, SIMILAR_ITEM_ID)
        ),
        TableSpec("gold.item_features", ITEM_FEATURES, (AS_OF_DATE,), (ITEM_ID,)),
        TableSpec("gold.user_features", USER_FEATURES, (AS_OF_DATE,), (USER_ID,)),
        TableSpec("gold.user_sequences", USER_SEQUENCES, (AS_OF_DATE,), (USER_ID,)),
        TableSpec(
            "gold.user_recommendations",
            USER_RECOMMENDATIONS,
            keys=(USER_ID, RANK),
            description="serving: top-N per user; replaced whole on each publication",
        ),
        TableSpec(
            "gold.similar_items",
            SIMILAR_ITEMS,
            keys=(ITEM_ID, RANK),
            description="serving: similar items per item; replaced whole on each publication",
        ),
        TableSpec(
            "gold.popular_items",
            POPULAR_ITEMS,
            keys=(CATEGORY, RANK),
            description="serving: popular items overall and per category",
        ),
        # ---- search
        TableSpec(
            "gold.search_postings",
            SEARCH_POSTINGS,
            (AS_OF_DATE,),
            (FIELD, TERM, ITEM_ID),
            "search index: term occurrences per item field",
        ),
        TableSpec(
            "gold.search_terms",
            SEARCH_TERMS,
            (AS_OF_DATE,),
            (FIELD, TERM),
            "search index: document frequency and idf per field term",
        ),
        TableSpec(
            "gold.search_field_stats",
            SEARCH_FIELD_STATS,
            (AS_OF_DATE,),
            (FIELD,),
            "search index: documents and average length per field",
        ),
        TableSpec(
            "gold.search_query_rewrites",
            SEARCH_QUERY_REWRITES,
            (AS_OF_DATE,),
            (QUERY_NORM, RELATED_QUERY),
            "spelling variants and synonyms learned from search clicks",
        ),
        TableSpec(
            "gold.query_categories",
            QUERY_CATEGORIES,
            (AS_OF_DATE,),
            ("key_kind", "key", CATEGORY_PATH),
            "query-to-category model learned from search clicks",
        ),
        TableSpec(
            "gold.search_results",
            SEARCH_RESULTS,
            keys=(QUERY_NORM, RANK),
            description="serving: ranked results of head queries; replaced whole on publication",
        ),
        TableSpec(
            "gold.query_suggestions",
            QUERY_SUGGESTIONS,
            keys=(PREFIX, RANK),
            description="serving: autocomplete, prefix -> popular queries; replaced whole",
        ),
        TableSpec(
            "gold.publications",
            PUBLICATIONS,
            keys=(PUBLICATION,),
            description="serving: which version of each serving table is published now",
        ),
        TableSpec("ops.runs", RUNS, ("run_date",), description="one row per stage run"),
        TableSpec("ops.metrics", METRICS, ("run_date",), description="offline metrics per model"),
        TableSpec(
            "ops.validations",
            VALIDATIONS,
            ("run_date",),
            description="Great Expectations results per table and run",
        ),
    )
}


def table(name: str) -> TableSpec:
    """The spec of a lake table by its ``layer.name``."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(sorted(TABLES))}") from None
