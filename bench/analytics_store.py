"""Benchmark: the analytics store at scale, and the cost of its two designs.

    .venv/bin/python bench/analytics_store.py [--events 1000000] [--batch 1000] [--days 30] [--runs 3]

1. Writes ``--events`` synthetic enriched events as the event handler does
   (``core.analytics_record.write_partitions``: a batch of ``--batch`` events at a time, one
   Parquet object per event date and type per batch), over ``--days`` days, 200 merchants,
   orders walking through confirmation, shipping, delivery and sometimes return and refund.
2. Times each metric of ``steps.analytics_queries`` on DuckDB (median of ``--runs``; DuckDB's
   memory limited to ``--memory-limit``), and reports the bytes Athena would scan for it: the
   compressed size of the column chunks the query names (Athena prunes unused columns), in the
   partitions its WHERE clause leaves, and in every partition without that pruning; and
   Athena's price per 1,000 such queries (billed per TB scanned, at least 10 MB a query).
3. Measures what decides the design: the writer's time per batch and the bytes of an enriched
   event, and prices a million events both ways (list prices below, us-east-1).

Prints a line per figure, writes bench/results/analytics_store.json and the section of
bench/results.md between its markers, with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from bwp_workshop.core.analytics_record import analytics_row, write_partitions
from bwp_workshop.steps import analytics_queries as queries
from bwp_workshop.steps.analytics_lake import duckdb_connection

REPO = Path(__file__).resolve().parent.parent
MARK_START, MARK_END = "<!-- analytics_store.py: start -->", "<!-- analytics_store.py: end -->"

# --- list prices, us-east-1, as the AWS pricing pages state them (checked 2026-12) ------------
#: Amazon Data Firehose, Direct PUT: ingestion per GB, each record rounded up to 5 KB.
FIREHOSE_INGEST_PER_GB, FIREHOSE_RECORD_ROUNDING = 0.029, 5 * 1024
#: Format conversion (JSON to Parquet) per GB ingested; dynamic partitioning per GB processed
#: and per 1,000 objects delivered.
FIREHOSE_CONVERSION_PER_GB, FIREHOSE_PARTITIONING_PER_GB, FIREHOSE_PER_1000_OBJECTS = 0.018, 0.020, 0.005
#: Firehose's largest buffer: 128 MB or 900 s, per partition.
FIREHOSE_BUFFER_SECONDS = 900
#: S3 Standard PUT per 1,000 requests; Lambda per GB-second (x86); Athena per TB scanned.
S3_PUT_PER_1000, LAMBDA_PER_GB_SECOND, ATHENA_PER_TB = 0.005, 0.0000166667, 5.0
ATHENA_MIN_BYTES = 10 * 1024**2
#: The handler's memory (EventStack).
LAMBDA_MEMORY_GB = 512 / 1024

LIFECYCLE = (
    ("ORDER_CONFIRMED", 0),
    ("PACKAGE_DELIVERY_IN_TRANSIT", 6),
    ("PACKAGE_DELIVERED", 40),
    ("RETURN_STARTED", 120),
    ("RETURN_COMPLETED", 200),
    ("REFUND_REQUESTED", 201),
    ("REFUND_COMPLETED", 205),
)


def events(count: int, days: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` data table items: orders walking their lifecycle (hours after confirmation), in
    the order they would arrive, plus a catalog event per ten."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    items: list[dict[str, Any]] = []
    n = 0
    while len(items) < count:
        n += 1
        installation = f"inst-{rng.randrange(200):03d}"
        confirmed = start + timedelta(seconds=rng.uniform(0, days * 86400))
        amount = Decimal(rng.randrange(500, 50000)) / 100
        returned = rng.random() < 0.12
        for event_type, hours in LIFECYCLE:
            if hours >= 120 and not returned:
                break
            when = confirmed + timedelta(hours=hours + rng.uniform(0, 4))
            item = {
                "event_id": f"ev-{n}-{event_type}",
                "event_type": event_type,
                "event_time": when.isoformat(),
                "received_at": (when + timedelta(seconds=1)).isoformat(),
                "installation_id": installation,
                "order_id": f"o-{n}",
                "order_execution_state": "COMPLETED",
                "order_line_count": 2,
                "order_total_amount": amount,
                "order_currency": "USD",
                "site_id": f"site-{installation}",
                "enriched": True,
                "shape": "2024-11-01",
            }
            if event_type.startswith("REFUND"):
                item.update(
                    refund_id=f"r-{n}",
                    refund_state="SUCCESS" if "COMPLETED" in event_type else "PENDING",
                    refund_amount=amount,
                )
            items.append(item)
        if n % 10 == 0:
            items.append(
                {
                    "event_id": f"ev-{n}-cat",
                    "event_type": "INVENTORY_CHANGED",
                    "installation_id": installation,
                    "event_time": confirmed.isoformat(),
                    "received_at": confirmed.isoformat(),
                    "enriched": True,
                }
            )
    items = items[:count]
    items.sort(key=lambda item: item["received_at"])  # as the queue delivers them
    return items


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_all(items: list[dict[str, Any]], folder: Path, batch: int) -> dict[str, Any]:
    started = time.perf_counter()
    batch_seconds = []
    objects = 0
    for start in range(0, len(items), batch):
        rows = [analytics_row(item) for item in items[start : start + batch]]
        began = time.perf_counter()
        objects += len(write_partitions(rows, folder, batch_id=f"b{start:08d}"))
        batch_seconds.append(time.perf_counter() - began)
    files = list(folder.glob("**/*.parquet"))
    sizes = [f.stat().st_size for f in files]
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "objects": objects,
        "bytes": sum(sizes),
        "object_kib_median": round(statistics.median(sizes) / 1024, 1),
        "writer_seconds_per_batch_median": round(statistics.median(batch_seconds), 4),
        "partitions": len({f.parent for f in files}),
    }


def chunk_bytes(folder: Path) -> dict[tuple[str, str], dict[str, int]]:
    """Per partition (date, type): compressed bytes per column, from the Parquet footers."""
    pattern = str(folder / "**" / "*.parquet")
    found: dict[tuple[str, str], dict[str, int]] = {}
    rows = duckdb.execute(
        "SELECT file_name, path_in_schema, sum(total_compressed_size) FROM parquet_metadata(?) GROUP BY ALL", [pattern]
    ).fetchall()
    for file_name, column, size in rows:
        parts = dict(p.split("=", 1) for p in Path(file_name).parts if "=" in p)
        per = found.setdefault((parts["event_date"], parts["event_type"]), {})
        per[column] = per.get(column, 0) + int(size)
    return found


def scanned(sql: str, chunks: dict[tuple[str, str], dict[str, int]], types: tuple[str, ...] | None) -> int:
    """Bytes of the named columns' chunks, in the partitions of ``types`` (None: every one)."""
    named = {column for column in {c for per in chunks.values() for c in per} if re.search(rf"\b{column}\b", sql)}
    return sum(
        size
        for (_, event_type), per in chunks.items()
        if types is None or event_type in types
        for column, size in per.items()
        if column in named
    )


def athena_cost_per_1000(bytes_scanned: int) -> float:
    return 1000 * max(bytes_scanned, ATHENA_MIN_BYTES) / 1024**4 * ATHENA_PER_TB


def design_costs(sample: list[dict[str, Any]], write: dict[str, Any], batch: int, events_count: int) -> dict:
    """The price of a million events, each design (see the module's docstring for the prices)."""
    record = max(1, round(statistics.mean(len(json.dumps(i, default=str)) for i in sample)))
    gb_billed = 1e6 * -(-record // FIREHOSE_RECORD_ROUNDING) * FIREHOSE_RECORD_ROUNDING / 1024**3
    gb_actual = 1e6 * record / 1024**3
    # Firehose buffers per partition: at most one object per partition per 900 s; a steady
    # million events a day over ~13 types gives about one object per type per buffer interval.
    firehose_objects = min(1e6, 86400 / FIREHOSE_BUFFER_SECONDS * 13)
    firehose = {
        "ingestion": gb_billed * FIREHOSE_INGEST_PER_GB,
        "format conversion": gb_billed * FIREHOSE_CONVERSION_PER_GB,
        "dynamic partitioning": gb_actual * FIREHOSE_PARTITIONING_PER_GB
        + firehose_objects / 1000 * FIREHOSE_PER_1000_OBJECTS,
        "S3 PUTs": firehose_objects / 1000 * S3_PUT_PER_1000,
        "the handler's PutRecordBatch calls (about 5 ms per batch)": 1e6
        / batch
        * 0.005
        * LAMBDA_MEMORY_GB
        * LAMBDA_PER_GB_SECOND,
    }
    objects_per_million = write["objects"] * 1e6 / events_count
    lambda_writer = {
        "the handler's Parquet write per batch": 1e6
        / batch
        * write["writer_seconds_per_batch_median"]
        * LAMBDA_MEMORY_GB
        * LAMBDA_PER_GB_SECOND,
        "S3 PUTs": objects_per_million / 1000 * S3_PUT_PER_1000,
    }
    return {
        "enriched event as JSON (bytes)": record,
        "firehose": {k: round(v, 4) for k, v in firehose.items()},
        "firehose total": round(sum(firehose.values()), 3),
        "lambda writer": {k: round(v, 4) for k, v in lambda_writer.items()},
        "lambda writer total": round(sum(lambda_writer.values()), 3),
        "lambda writer objects per million events": round(objects_per_million),
    }


#: Batch sizes the objects per million events are counted for (SQS allows 1 to 10,000).
BATCH_SIZES = (10, 100, 1000, 10000)
BATCHES_START, BATCHES_END = (
    "<!-- analytics_store.py --batches: start -->",
    "<!-- analytics_store.py --batches: end -->",
)


def objects_by_batch_size(items: list[dict[str, Any]]) -> dict[int, dict[str, float]]:
    """Objects the handler writes per million events (one per date and type per batch), and their
    S3 PUT price, for each of :data:`BATCH_SIZES`."""
    found = {}
    for size in BATCH_SIZES:
        objects = sum(
            len({(str(i["event_time"])[:10], i["event_type"]) for i in items[start : start + size]})
            for start in range(0, len(items), size)
        )
        per_million = objects * 1e6 / len(items)
        found[size] = {"objects": round(per_million), "usd": round(per_million / 1000 * S3_PUT_PER_1000, 3)}
    return found


def batches_only(count: int, days: int) -> None:
    """``--batches``: the objects per million events at each batch size, into bench/results.md."""
    load = [round(x, 2) for x in os.getloadavg()]
    found = objects_by_batch_size(events(count, days))
    print(found)
    rows = " | ".join(f"{size:,}: {v['objects']:,} objects, {v['usd']} USD" for size, v in found.items())
    section = "\n".join(
        [
            BATCHES_START,
            f"The handler's S3 PUTs per million events by SQS batch size ({count:,} synthetic events over {days} "
            f"days; load {load}; `.venv/bin/python bench/analytics_store.py --batches --events {count}`): {rows}. "
            "Firehose prices a million events at about 0.24 USD whatever the batch.",
            BATCHES_END,
        ]
    )
    path = REPO / "bench" / "results.md"
    text = path.read_text()
    if BATCHES_START in text:
        text = re.sub(re.escape(BATCHES_START) + ".*?" + re.escape(BATCHES_END), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--batches", action="store_true", help="only count the objects per batch size")
    args = parser.parse_args()
    if args.batches:
        batches_only(args.events, args.days)
        return
    command = "  ".join(
        ["  .venv/bin/python bench/analytics_store.py", f"--events {args.events}", f"--batch {args.batch}"]
    )
    load_before = [round(x, 2) for x in os.getloadavg()]
    items = events(args.events, args.days)
    report: dict[str, Any] = {"events": args.events, "batch": args.batch, "days": args.days, "command": command.strip()}
    with tempfile.TemporaryDirectory(prefix="bwp-bench-analytics-") as tmp:
        folder = Path(tmp)
        report["write"] = write_all(items, folder, args.batch)
        print("write", report["write"], flush=True)
        report["costs"] = design_costs(items[:2000], report["write"], args.batch, args.events)
        del items
        chunks = chunk_bytes(folder)
        connection = duckdb_connection(folder)
        connection.execute(f"SET memory_limit = '{args.memory_limit}'")
        report["queries"] = {}
        for metric in queries.METRICS:
            sql = queries.render(metric, "duckdb")
            times = []
            for _ in range(args.runs):
                began = time.perf_counter()
                rows = len(connection.execute(sql).fetchall())
                times.append(time.perf_counter() - began)
            pruned, full = scanned(sql, chunks, metric.event_types), scanned(sql, chunks, None)
            report["queries"][metric.name] = {
                "seconds_median": round(statistics.median(times), 3),
                "rows": rows,
                "athena_bytes_pruned": pruned,
                "athena_bytes_unpruned": full,
                "athena_usd_per_1000_pruned": round(athena_cost_per_1000(pruned), 4),
                "athena_usd_per_1000_unpruned": round(athena_cost_per_1000(full), 4),
            }
            print(metric.name, report["queries"][metric.name], flush=True)
        connection.close()
    report["peak_rss_mib"] = round(rss_mib())
    report["load_average"] = {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]}
    report["machine"] = {"cpus": os.cpu_count(), "duckdb": duckdb.__version__}
    out = REPO / "bench" / "results" / "analytics_store.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    write_section(report)
    print(json.dumps(report["costs"], indent=1))


def write_section(report: dict[str, Any]) -> None:
    w, c = report["write"], report["costs"]
    lines = [
        MARK_START,
        "## Analytics store (`bench/analytics_store.py`)",
        "",
        f"{report['events']:,} synthetic enriched events over {report['days']} days, written as the handler writes "
        f"them (batches of {report['batch']}, one Parquet object per date and type per batch), then each metric "
        f"on DuckDB {report['machine']['duckdb']} (memory limit 1 GB), median of the runs. Load average (1, 5, 15 "
        f"min) {report['load_average']['before']} before, {report['load_average']['after']} after, on "
        f"{report['machine']['cpus']} cores. Command: `{report['command']}`.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| written: objects / partitions / bytes | {w['objects']:,} / {w['partitions']:,} / "
        f"{w['bytes'] / 1024**2:.1f} MiB |",
        f"| median object | {w['object_kib_median']} KiB |",
        f"| writer time per batch (median; the handler's added work) | "
        f"{w['writer_seconds_per_batch_median'] * 1000:.0f} ms |",
        f"| whole write | {w['seconds']} s |",
        f"| peak memory of the process (writing and querying) | {report['peak_rss_mib']} MiB |",
    ]
    for name, q in report["queries"].items():
        lines.append(
            f"| `{name}`: DuckDB time / Athena bytes pruned / unpruned / USD per 1,000 queries pruned / unpruned | "
            f"{q['seconds_median']} s / {q['athena_bytes_pruned'] / 1024**2:.1f} MiB / "
            f"{q['athena_bytes_unpruned'] / 1024**2:.1f} MiB / {q['athena_usd_per_1000_pruned']} / "
            f"{q['athena_usd_per_1000_unpruned']} |"
        )
    lines += [
        f"| a million events, Firehose (dynamic partitioning + Parquet conversion), USD | {c['firehose total']} |",
        f"| a million events, the handler writing Parquet, USD | {c['lambda writer total']} |",
        "",
        f"Per part: Firehose {c['firehose']}; the handler {c['lambda writer']} "
        f"({c['lambda writer objects per million events']:,} objects per million events; an enriched event is "
        f"{c['enriched event as JSON (bytes)']} bytes as JSON, billed by Firehose as 5 KB).",
        MARK_END,
    ]
    path = REPO / "bench" / "results.md"
    text = path.read_text()
    section = "\n".join(lines)
    if MARK_START in text:
        text = re.sub(re.escape(MARK_START) + ".*?" + re.escape(MARK_END), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
