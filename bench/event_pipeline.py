"""Benchmark: the event pipeline on the local target, and the handler's cold import.

    .venv/bin/python bench/event_pipeline.py [--events 1000] [--concurrency 4] [--imports 7]

Starts the local runtime (moto server and the Buy with Prime sandbox) on free ports in a
temporary state folder, installs an app in the sandbox, provisions the event pipeline as the
workshop does (partner bus, rule, queue with DLQ, data and token tables, secret; see
bwp_workshop/testing/pipeline_harness.py) and runs the local event runner with the real handler. Then:

- end to end: the sandbox emits at least ``--events`` events (mixed order lifecycles) while
  the runner consumes them; events/s from the first emit to the last record stored;
- drain: the same again with the runner stopped while emitting, then started; events/s of
  the consumer alone on a full queue;
- per event: API round trips (GraphQL and token endpoint), DynamoDB calls (data and token
  tables), records stored per SQS record received;
- the cold import time of ``lambdas/event_handler/handler.py`` in a fresh interpreter
  (median of ``--imports``; see bench/lambda_cold_import.py).

``--no-drain`` measures end to end only. Prints a table and writes
bench/results/event_pipeline.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bwp_workshop import aws
from bwp_workshop.local.runtime import LocalRuntime
from bwp_workshop.sandbox.client import SandboxClient
from bwp_workshop.settings import Settings
from bwp_workshop.testing.environment import machine_settings
from bwp_workshop.testing.pipeline_harness import Pipeline, depth, provision, running, settle
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.sandbox import SandboxHandle, installed_app
from bwp_workshop.testing.tables import create_data_table

REPO = Path(__file__).resolve().parent.parent

HANDLER_DIR = REPO / "lambdas" / "event_handler"
IMPORT_SCRIPT = "import time; t = time.perf_counter(); import handler; print(time.perf_counter() - t)"


def emit_at_least(client: SandboxClient, n: int, seed: int) -> list[dict[str, Any]]:
    """Emit batches of mixed order activity until ``n`` events were published; the entries."""
    entries: list[dict[str, Any]] = []
    while len(entries) < n:
        orders = max(1, min(200, (n - len(entries)) // 7 + 1))
        result = client.emit(orders=orders, shapes=["2024-11-01"], seed=seed + len(entries))
        assert result["undelivered"] == 0, result
        entries += result["entries"]
    return entries


def run_pipeline(
    pipeline: Pipeline, client: SandboxClient, n: int, concurrency: int, drain: bool, moto: psutil.Process
) -> dict[str, Any]:
    timeout = max(600.0, n / 20)
    cpu_before = sum(moto.cpu_times()[:2])
    if drain:
        entries = emit_at_least(client, n, seed=1000)
        settle_queue(pipeline, len(entries))
        start = time.perf_counter()
        with running(pipeline, concurrency=concurrency) as runner:
            settle(pipeline, [entry["event_id"] for entry in entries], 0, timeout=timeout)
            elapsed = time.perf_counter() - start
    else:
        with running(pipeline, concurrency=concurrency) as runner:
            start = time.perf_counter()
            entries = emit_at_least(client, n, seed=1)
            settle(pipeline, [entry["event_id"] for entry in entries], 0, timeout=timeout)
            elapsed = time.perf_counter() - start
    counters = dict(pipeline.counters or {})
    stored = counters["records_stored"]
    received = runner.stats.received
    order_events = sum(1 for entry in entries if entry["order_id"])
    ids = {entry["event_id"] for entry in entries}
    return {
        "events": len(entries),
        "order_events": order_events,
        "seconds": round(elapsed, 2),
        "events_per_s": round(len(entries) / elapsed, 1),
        "sqs_records_received": received,
        "batches": runner.stats.batches,
        "records_stored": stored,
        "records_stored_per_record_received": round(stored / received, 3),
        "api_round_trips_per_event": round((counters["api_requests"] + counters["token_requests"]) / stored, 3),
        "graphql_requests": counters["api_requests"],
        "token_requests": counters["token_requests"],
        "dynamodb_calls_per_event": round((counters["data_table_calls"] + counters["token_table_calls"]) / stored, 3),
        "data_table_calls": counters["data_table_calls"],
        # The handler's own time (from its start to its return, as Lambda bills it) per event
        # and per invocation, in this process against the local AWS.
        "handler_ms_per_event": round(counters["handler_ms"] / len(entries), 2),
        "handler_ms_per_invocation": round(counters["handler_ms"] / max(1, counters["invocations"]), 1),
        "invocations": counters["invocations"],
        "token_table_calls": counters["token_table_calls"],
        # Checked once the events are in (settle waited on their ids; one Scan here, not in a loop).
        "distinct_events": len(ids),
        # settle() found a record for every id; the handler stored each with one successful put.
        "stored_once": stored == len(ids),
        "duplicates_skipped": counters.get("duplicates_skipped", 0),
        "dead_letters": depth(pipeline.settings, pipeline.dlq_url),
        "queue_left": depth(pipeline.settings, pipeline.queue_url),
        "moto_rss_mib": round(moto.memory_info().rss / 2**20, 1),
        # CPU the moto server spent per event (less sensitive to the machine's load than a rate).
        "moto_cpu_ms_per_event": round((sum(moto.cpu_times()[:2]) - cpu_before) * 1000 / len(entries), 2),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }


def raw_put_rate(settings: Settings, puts: int, concurrency: int, moto: psutil.Process) -> dict[str, Any]:
    """bench/dynamodb_puts.py on this run's local AWS (same process, same moment): the rate
    the event pipeline's ceiling is measured against. The table is dropped afterwards."""
    from dynamodb_puts import put_all  # a sibling script: bench/ is first on sys.path

    table = "raw-puts"
    create_data_table(settings, table)
    cpu_before = sum(moto.cpu_times()[:2])
    try:
        seconds = put_all(settings, table, puts, concurrency)
        cpu = sum(moto.cpu_times()[:2]) - cpu_before
    finally:
        aws.client("dynamodb", settings).delete_table(TableName=table)
    return {
        "puts": puts,
        "concurrency": concurrency,
        "puts_per_s": round(puts / seconds, 1),
        "moto_cpu_ms_per_put": round(cpu * 1000 / puts, 2),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }


def settle_queue(pipeline: Pipeline, n: int, timeout: float = 120) -> None:
    """Wait until the rule delivered ``n`` messages into the queue."""
    deadline = time.monotonic() + timeout
    while depth(pipeline.settings, pipeline.queue_url) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("the events did not all reach the queue")
        time.sleep(0.2)


def import_times(runs: int) -> dict[str, Any]:
    """The handler's cold import (bench/lambda_cold_import.py): venv, and the Lambda folder on
    Python 3.12 with and without its bytecode."""
    from lambda_cold_import import measure  # a sibling script: bench/ is first on sys.path

    return measure(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="pollers of the event runner")
    parser.add_argument("--imports", type=int, default=7, help="fresh interpreters for the import time (0: skip)")
    parser.add_argument("--no-drain", action="store_true", help="measure end to end only")
    parser.add_argument(
        "--puts",
        type=int,
        default=1000,
        help="raw conditional puts measured on the same local AWS before the pipeline, for the ratio (0: skip)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="results file (default bench/results/event_pipeline.json)"
    )
    args = parser.parse_args()
    for name in machine_settings():
        os.environ.pop(name)

    results: dict[str, Any] = {
        "command": f".venv/bin/python bench/event_pipeline.py --events {args.events} "
        f"--concurrency {args.concurrency} --imports {args.imports} --puts {args.puts}"
        + (" --no-drain" if args.no_drain else ""),
        "machine": {
            "cores": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
    }
    if args.imports > 0:
        results["handler_import"] = import_times(args.imports)
    with tempfile.TemporaryDirectory() as state:
        settings = Settings(
            project_dir=Path(state) / "project",
            state_dir=Path(state) / ".bwp",
            local_moto_port=free_port(),
            local_sandbox_port=free_port(),
        )
        runtime = LocalRuntime(settings)
        moto = psutil.Process(next(change.pid for change in runtime.up() if change.name == "moto" and change.pid))
        try:
            if args.puts > 0:
                results["raw_puts"] = raw_put_rate(settings, args.puts, args.concurrency, moto)
            settings = Settings(**{**settings.model_dump(), "public_key": ""})  # the sandbox's key, now written
            # One emit publishes up to 1,400 events through the local AWS before it answers: on
            # a busy machine that takes longer than the client's default 30 s.
            with SandboxClient(settings, timeout=300) as client:
                sandbox = SandboxHandle(settings=settings, url=settings.sandbox_url, client=client)
                with installed_app(sandbox) as installed:
                    pipeline = provision(installed)
                    results["runner"] = {
                        "concurrency": args.concurrency,
                        "batch_size": settings.event_batch_size,
                        "batch_window_s": settings.event_batch_window,
                    }
                    results["end_to_end"] = run_pipeline(
                        pipeline, client, args.events, args.concurrency, drain=False, moto=moto
                    )
                    if not args.no_drain:
                        results["drain"] = run_pipeline(
                            pipeline, client, args.events, args.concurrency, drain=True, moto=moto
                        )
        finally:
            runtime.down()

    out = (args.out or REPO / "bench" / "results" / "event_pipeline.json").resolve()
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"event pipeline on the local target, {results['machine']['cores']} cores")
    print(f"  command: {results['command']}")
    for phase in ("end_to_end", "drain"):
        if phase not in results:
            continue
        r = results[phase]
        print(
            f"  {phase:<11} {r['events']} events in {r['seconds']} s = {r['events_per_s']} events/s; "
            f"{r['api_round_trips_per_event']} API round trips, {r['dynamodb_calls_per_event']} DynamoDB calls "
            f"per event; {r['records_stored_per_record_received']} records stored per record received"
        )
        print(
            f"  {'':<11} stored once: {r['stored_once']}; {r['dead_letters']} in the DLQ, {r['queue_left']} left "
            f"in the queue; moto RSS {r['moto_rss_mib']} MiB; load {r['load_average_1m_at_end']}"
        )
        if "raw_puts" in results:
            raw = results["raw_puts"]["puts_per_s"]
            print(
                f"  {'':<11} raw conditional puts on the same local AWS: {raw} puts/s; "
                f"ratio {r['events_per_s'] / raw:.2f}"
            )
    imports = results.get("handler_import")
    if imports:
        print(f"  handler cold import: median {imports['venv_median_s']} s (venv)", end="")
        if imports.get("lambda_folder_py312_bytecode_median_s") is not None:
            print(
                f", Lambda folder on py3.12 {imports['lambda_folder_py312_bytecode_median_s']} s with its bytecode, "
                f"{imports['lambda_folder_py312_no_bytecode_median_s']} s without"
            )
        else:
            print()
    print(f"  written to {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")


if __name__ == "__main__":
    main()
