"""SupaDupa Analytics over the analytics store (notebook 07): the metrics of
:mod:`.analytics_queries` answered by Athena (aws) or DuckDB (local), the partitions each reads,
a merchant's data deleted, and the store emptied (notebook 99).

Why S3 and not the data table: the data table is the pipeline's source of truth, keyed for
writing one event and reading one installation's events; a question over every merchant would
Scan it all and pay for every item read. The Parquet objects are columnar and partitioned by day
and event type, so a query reads only the columns and partitions it needs.

On the local target DuckDB reads a synced copy of the bucket: the local AWS's S3 would need
DuckDB's httpfs extension, which DuckDB downloads at run time (not possible offline), so
:func:`sync` copies the bucket's objects (only new or changed ones) to ``.bwp/analytics/``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from .. import aws, names
from ..core.analytics_record import OBJECT_SUFFIX, PARTITIONS
from ..errors import WorkshopError
from ..outputs import load_outputs
from ..settings import Settings
from ..targets import choose_target
from . import analytics_queries as queries

#: Seconds an Athena query may run before the step gives up waiting.
ATHENA_TIMEOUT = 300.0


class AnalyticsStoreMissing(WorkshopError):
    """EventStack has no analytics store yet."""


def bucket_name(settings: Settings) -> str:
    bucket = load_outputs(settings).get(names.EVENT_STACK, {}).get(names.OUT_ANALYTICS_BUCKET, "")
    if not bucket:
        raise AnalyticsStoreMissing(
            "EventStack has no analytics bucket in its outputs.",
            hint="Deploy EventStack again (notebook 05) so it creates the analytics store, then run 06.",
        )
    return str(bucket)


def local_copy(settings: Settings) -> Path:
    return settings.bwp_dir / "analytics" / "events"


def _objects(s3: Any, bucket: str) -> dict[str, dict[str, Any]]:
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=names.ANALYTICS_PREFIX):
        for entry in page.get("Contents", []):
            if entry["Key"].endswith(OBJECT_SUFFIX):
                found[entry["Key"]] = entry
    return found


def sync(settings: Settings) -> dict[str, int]:
    """Copy the bucket's Parquet objects to :func:`local_copy` (new or changed ones; local files
    whose object is gone are removed). Counts of objects copied, kept and removed."""
    s3 = aws.client("s3", settings)
    bucket = bucket_name(settings)
    folder = local_copy(settings)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    objects = _objects(s3, bucket)
    copied = kept = removed = 0
    for key, entry in objects.items():
        path = folder / key.removeprefix(names.ANALYTICS_PREFIX)
        if manifest.get(key) == entry["ETag"] and path.is_file():
            kept += 1
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(path))
        manifest[key] = entry["ETag"]
        copied += 1
    for key in set(manifest) - set(objects):
        (folder / key.removeprefix(names.ANALYTICS_PREFIX)).unlink(missing_ok=True)
        del manifest[key]
        removed += 1
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return {"copied": copied, "kept": kept, "removed": removed}


# --- the engines ------------------------------------------------------------------------------
def duckdb_connection(folder: Path) -> Any:
    """A DuckDB connection where :data:`analytics_queries.TABLE` is a view over the Parquet files
    under ``folder`` (Hive partitions read as strings, as the Glue table declares them)."""
    import duckdb

    from ..core.analytics_record import COLUMNS

    connection = duckdb.connect()
    connection.execute(f'CREATE SCHEMA "{names.GLUE_DATABASE}"')
    if any(folder.glob(f"**/*{OBJECT_SUFFIX}")):
        pattern = str(folder / "**" / f"*{OBJECT_SUFFIX}").replace("'", "''")
        hive_types = ", ".join(f"'{p}': 'VARCHAR'" for p in PARTITIONS)
        source = (
            f"read_parquet('{pattern}', hive_partitioning = true, hive_types = {{{hive_types}}}, union_by_name = true)"
        )
        connection.execute(f"CREATE VIEW {queries.TABLE} AS SELECT * FROM {source}")
    else:  # nothing written yet: the same columns, no rows
        columns = ", ".join([f'"{n}" {k}' for n, k, _ in COLUMNS] + [f'"{p}" VARCHAR' for p in PARTITIONS])
        connection.execute(f"CREATE TABLE {queries.TABLE} ({columns})")
    return connection


def _athena_frame(athena: Any, execution_id: str) -> pd.DataFrame:
    rows: list[list[Any]] = []
    columns: list[dict[str, Any]] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
        columns = columns or page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
        rows.extend([field.get("VarCharValue") for field in row["Data"]] for row in page["ResultSet"]["Rows"])
    frame = pd.DataFrame(rows[1:], columns=[c["Name"] for c in columns])  # the first row is the header
    for column in columns:
        if column["Type"] in ("bigint", "integer", "double", "decimal", "real"):
            frame[column["Name"]] = pd.to_numeric(frame[column["Name"]])
    return frame


def run_athena(settings: Settings, sql: str) -> tuple[pd.DataFrame, int]:
    """Run ``sql`` in the workshop's workgroup; the answer and the bytes Athena scanned."""
    athena = aws.client("athena", settings)
    execution_id = athena.start_query_execution(
        QueryString=sql,
        WorkGroup=names.ATHENA_WORKGROUP,
        QueryExecutionContext={"Database": names.GLUE_DATABASE},
    )["QueryExecutionId"]
    deadline, pause = time.monotonic() + ATHENA_TIMEOUT, 0.5
    while True:
        execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if state == "SUCCEEDED":
            return _athena_frame(athena, execution_id), int(execution["Statistics"].get("DataScannedInBytes", 0))
        if state in ("FAILED", "CANCELLED") or time.monotonic() > deadline:
            reason = execution["Status"].get("StateChangeReason", "still running")
            raise WorkshopError(
                f"Athena query {execution_id} {state.lower()}: {reason}",
                hint="Read the reason; a query over the workgroup's scan limit is cancelled.",
            )
        time.sleep(pause)  # Athena has no waiter: poll, less often as the query runs longer
        pause = min(pause * 2, 5.0)


@dataclass
class Answers:
    """Each metric's answer, and what each query read."""

    frames: dict[str, pd.DataFrame]
    scanned: dict[str, int]  # bytes Athena scanned (aws); bytes of the partitions read (local)


def answer(settings: Settings, *, first: date | str | None = None, last: date | str | None = None) -> Answers:
    """Every metric of :data:`analytics_queries.METRICS`: Athena on aws, DuckDB over the synced
    copy on local."""
    engine = {"duckdb": _answer_with_duckdb, "athena": _answer_with_athena}[choose_target(settings).analytics_engine]
    return engine(settings, first, last)


def _answer_with_duckdb(settings: Settings, first: date | str | None, last: date | str | None) -> Answers:
    """DuckDB over the bucket's synced copy; the bytes scanned are those of the partitions read."""
    frames, scanned = {}, {}
    sync(settings)
    connection = duckdb_connection(local_copy(settings))
    listing = partitions(settings)
    for metric in queries.METRICS:
        frames[metric.name] = connection.execute(queries.render(metric, "duckdb", first=first, last=last)).df()
        read = _read_by(listing, metric.event_types, first, last)
        scanned[metric.name] = int(read["bytes"].sum())
    connection.close()
    return Answers(frames, scanned)


def _answer_with_athena(settings: Settings, first: date | str | None, last: date | str | None) -> Answers:
    frames, scanned = {}, {}
    for metric in queries.METRICS:
        frames[metric.name], scanned[metric.name] = run_athena(
            settings, queries.render(metric, "athena", first=first, last=last)
        )
    return Answers(frames, scanned)


# --- partitions ---------------------------------------------------------------------------------
def partitions(settings: Settings) -> pd.DataFrame:
    """The bucket's partitions: event date, event type, objects and bytes."""
    rows = []
    for key, entry in _objects(aws.client("s3", settings), bucket_name(settings)).items():
        parts = dict(part.split("=", 1) for part in key.split("/") if "=" in part)
        rows.append({**{p: parts.get(p) for p in PARTITIONS}, "bytes": entry["Size"]})
    frame = pd.DataFrame(rows, columns=[*PARTITIONS, "bytes"])
    return (
        frame.groupby(list(PARTITIONS)).agg(objects=("bytes", "size"), bytes=("bytes", "sum")).reset_index()
        if not frame.empty
        else frame.assign(objects=0)[[*PARTITIONS, "objects", "bytes"]]
    )


def _read_by(listing: pd.DataFrame, types: tuple[str, ...], first: Any, last: Any) -> pd.DataFrame:
    chosen = listing["event_type"].isin(types)
    if first is not None:
        chosen &= listing["event_date"] >= queries._day(first)
    if last is not None:
        chosen &= listing["event_date"] <= queries._day(last)
    return listing[chosen]


def partitions_read(settings: Settings, metric: str = "delivery_time") -> pd.DataFrame:
    """The partitions ``metric``'s query reads (its event types, every day): what the partition
    keys in its WHERE clause leave of the bucket."""
    return _read_by(partitions(settings), queries.BY_NAME[metric].event_types, None, None).reset_index(drop=True)


# --- a merchant's data deleted; the store emptied -------------------------------------------------
def _delete_versions(s3: Any, bucket: str, prefix: str, keep: str | None = None) -> int:
    """Delete every version (and delete marker) of the objects under ``prefix`` but ``keep``."""
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            if v["VersionId"] != keep
        ]
        for start in range(0, len(doomed), 1000):  # DeleteObjects takes 1,000 keys at most
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True})
        deleted += len(doomed)
    return deleted


def delete_merchant(installation_id: str, settings: Settings, *, bucket: str | None = None) -> dict:
    """Remove an installation's rows from every object of the store (uninstall, a privacy
    request): each object holding its rows is rewritten without them (or deleted when nothing
    else is left), and the object's older versions, which still hold them, are deleted too.
    Counts of objects read, rewritten and deleted, and rows removed."""
    import tempfile

    import duckdb

    bucket = bucket or bucket_name(settings)
    s3 = aws.client("s3", settings)
    done = {"objects read": 0, "objects rewritten": 0, "objects deleted": 0, "rows removed": 0}
    with tempfile.TemporaryDirectory(prefix="bwp-delete-") as folder:
        source, cleaned = Path(folder) / "source.parquet", Path(folder) / "cleaned.parquet"
        connection = duckdb.connect()
        for key in _objects(s3, bucket):
            s3.download_file(bucket, key, str(source))
            done["objects read"] += 1
            connection.execute(
                "CREATE OR REPLACE TEMP TABLE kept AS "
                "SELECT * FROM read_parquet(?) WHERE installation_id IS DISTINCT FROM ?",
                [str(source), installation_id],
            )
            rows = _count(connection, "SELECT count(*) FROM read_parquet(?)", [str(source)])
            left = _count(connection, "SELECT count(*) FROM kept")
            if rows == left:
                continue
            done["rows removed"] += rows - left
            if left:
                target = str(cleaned).replace("'", "''")
                connection.execute(f"COPY kept TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
                version = s3.put_object(Bucket=bucket, Key=key, Body=cleaned.read_bytes())["VersionId"]
                _delete_versions(s3, bucket, key, keep=version)
                done["objects rewritten"] += 1
            else:
                _delete_versions(s3, bucket, key)
                done["objects deleted"] += 1
        connection.close()
    return done


def _count(connection: Any, sql: str, parameters: list[Any] | None = None) -> int:
    found = connection.execute(sql, parameters or []).fetchone()
    return int(found[0]) if found else 0


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker of ``bucket`` (a versioned bucket must be
    empty of versions too before it can be deleted); how many were deleted."""
    try:
        return _delete_versions(s3, bucket, "")
    except s3.exceptions.NoSuchBucket:
        return 0


# --- what notebook 07 shows ---------------------------------------------------------------------
def check_against_records(answers: Answers, frame: pd.DataFrame) -> pd.DataFrame:
    """Each metric of the store next to the same metric from the data table's records
    (``analytics.records_frame``): rows on each side and whether they are equal."""
    from .analytics_reference import compare, reference_answers

    return compare(answers.frames, reference_answers(frame))


def _label(column: Any) -> str:
    """A legend label: the installation id shortened (its first 13 characters), and the currency."""
    parts = column if isinstance(column, tuple) else (column,)
    return " ".join([str(parts[0])[:13] + ("…" if len(str(parts[0])) > 13 else ""), *(f"({p})" for p in parts[1:])])


def plot_answers(answers: Answers) -> Any:
    """Orders and revenue (per currency) per day, and mean hours from order to delivery, a bar
    per merchant (a Figure; display it with ``analytics.show``)."""
    from matplotlib.figure import Figure

    from .analytics import _headroom

    figure = Figure(figsize=(9, 8), layout="constrained")
    panels = figure.subplots(3, 1)
    orders, revenue, delivery = (answers.frames[name] for name in ("orders", "revenue", "delivery_time"))
    tables = (
        ("Orders per day", "orders",
         orders.pivot_table(index="day", columns="installation_id", values="orders", aggfunc="sum")),
        ("Revenue per day", "revenue",
         revenue.pivot_table(index="day", columns=["installation_id", "currency"], values="revenue", aggfunc="sum")),
        ("Mean hours from order to delivery, by day of order", "hours",
         delivery.assign(hours=delivery["mean_seconds"] / 3600).pivot_table(
             index="day", columns="installation_id", values="hours", aggfunc="mean")),
    )  # fmt: skip
    for axes, (title, label, table) in zip(panels, tables, strict=True):
        axes.set_title(title)
        if table.empty:
            axes.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=axes.transAxes)
            axes.set_yticks([])
            continue
        table = table.astype(float)
        table.columns = [_label(column) for column in table.columns]
        table.plot.bar(ax=axes, rot=0)
        axes.set_ylim(bottom=0, top=_headroom(table.max().max()))  # room for the legend above the bars
        axes.set_ylabel(label)
        axes.set_xlabel("day (UTC)")
        axes.legend(title="installation", fontsize="small", loc="upper left")
    return figure
