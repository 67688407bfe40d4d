"""Benchmark: the event pipeline on the local target, and the handler's cold import.

    .venv/bin/python bench/event_pipeline.py [--events 1000] [--concurrency 4] [--imports 7]

Starts the local runtime (moto server and the Buy with Prime sandbox) on free ports in a
temporary state folder, installs an app in the sandbox, provisions the event pipeline as the
workshop does (partner bus, rule, queue with DLQ, data and token tables, secret; see
tests/e2e/pipeline.py) and runs the local event runner with the real handler. Then:

- end to end: the sandbox emits at least ``--events`` events (mixed order lifecycles) while
  the runner consumes them; events/s from the first emit to the last record stored;
- drain: the same again with the runner stopped while emitting, then started; events/s of
  the consumer alone on a full queue;
- per event: API round trips (GraphQL and token endpoint), DynamoDB calls (data and token
  tables), records stored per SQS record received;
- the cold import time of ``lambdas/event_handler/handler.py`` in a fresh interpreter
  (median of ``--imports``), in this venv and from the built Lambda folder on Python 3.12
  without bytecode caches (as on Lambda's read-only file system).

Prints a table and writes bench/results/event_pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bwp_workshop import events  # noqa: E402
from bwp_workshop.local.runtime import LocalRuntime  # noqa: E402
from bwp_workshop.sandbox.client import SandboxClient  # noqa: E402
from bwp_workshop.settings import Settings  # noqa: E402
from tests.conftest import SandboxHandle, free_port, machine_settings  # noqa: E402
from tests.e2e.pipeline import Pipeline, provision, running, settle  # noqa: E402
from tests.sandbox.helpers import installed_app  # noqa: E402

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


def run_pipeline(pipeline: Pipeline, client: SandboxClient, n: int, concurrency: int, drain: bool) -> dict[str, Any]:
    before = events.count_records(pipeline.settings)
    if drain:
        entries = emit_at_least(client, n, seed=1000)
        settle_queue(pipeline, len(entries))
        start = time.perf_counter()
        with running(pipeline, concurrency=concurrency) as runner:
            settle(pipeline, before + len(entries), 0, timeout=600)
            elapsed = time.perf_counter() - start
    else:
        with running(pipeline, concurrency=concurrency) as runner:
            start = time.perf_counter()
            entries = emit_at_least(client, n, seed=1)
            settle(pipeline, before + len(entries), 0, timeout=600)
            elapsed = time.perf_counter() - start
    counters = dict(pipeline.counters or {})
    stored = counters["records_stored"]
    received = runner.stats.received
    order_events = sum(1 for entry in entries if entry["order_id"])
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
        "token_table_calls": counters["token_table_calls"],
    }


def settle_queue(pipeline: Pipeline, n: int, timeout: float = 120) -> None:
    """Wait until the rule delivered ``n`` messages into the queue."""
    from tests.e2e.pipeline import depth

    deadline = time.monotonic() + timeout
    while depth(pipeline.settings, pipeline.queue_url) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("the events did not all reach the queue")
        time.sleep(0.2)


def import_times(runs: int) -> dict[str, Any]:
    venv = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_SCRIPT], cwd=HANDLER_DIR, capture_output=True, text=True, check=True
        )
        venv.append(float(out.stdout.strip()))
    result: dict[str, Any] = {"venv_median_s": round(statistics.median(venv), 3), "venv_max_s": round(max(venv), 3)}

    python312 = None
    for candidate in (shutil.which("python3.12"), str(Path.home() / ".pyenv/versions/3.12.1/bin/python3.12")):
        probe = subprocess.run(  # the interpreter itself, not a version manager's shim
            [candidate or "false", "-c", "import sys; print(sys.executable)"], capture_output=True, text=True
        )
        if probe.returncode == 0:
            python312 = probe.stdout.strip()
            break
    if python312:
        from bwp_workshop.stacks.lambda_asset import build_lambda_asset

        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(project_dir=REPO, state_dir=Path(tmp) / ".bwp", build_dir=REPO / ".bwp" / "build")
            folder = build_lambda_asset(settings, out_dir=Path(tmp) / "asset")
            asset = []
            for _ in range(runs):
                out = subprocess.run(
                    [
                        python312,
                        "-I",
                        "-S",
                        "-B",
                        "-c",
                        f"import sys; sys.path.insert(0, {str(folder)!r}); {IMPORT_SCRIPT}",
                    ],
                    cwd=folder,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                asset.append(float(out.stdout.strip()))
        result["lambda_folder_py312_no_bytecode_median_s"] = round(statistics.median(asset), 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="pollers of the event runner")
    parser.add_argument("--imports", type=int, default=7, help="fresh interpreters for the import time")
    args = parser.parse_args()
    for name in machine_settings():
        os.environ.pop(name)

    results: dict[str, Any] = {
        "command": f".venv/bin/python bench/event_pipeline.py --events {args.events} "
        f"--concurrency {args.concurrency} --imports {args.imports}",
        "machine": {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1)},
    }
    results["handler_import"] = import_times(args.imports)
    with tempfile.TemporaryDirectory() as state:
        settings = Settings(
            project_dir=Path(state) / "project",
            state_dir=Path(state) / ".bwp",
            local_moto_port=free_port(),
            local_sandbox_port=free_port(),
        )
        runtime = LocalRuntime(settings)
        runtime.up()
        try:
            settings = Settings(**{**settings.model_dump(), "public_key": ""})  # the sandbox's key, now written
            with SandboxClient(settings) as client:
                sandbox = SandboxHandle(settings=settings, url=settings.sandbox_url, client=client)
                with installed_app(sandbox) as installed:
                    pipeline = provision(installed)
                    results["runner"] = {
                        "concurrency": args.concurrency,
                        "batch_size": settings.event_batch_size,
                        "batch_window_s": settings.event_batch_window,
                    }
                    results["end_to_end"] = run_pipeline(pipeline, client, args.events, args.concurrency, drain=False)
                    results["drain"] = run_pipeline(pipeline, client, args.events, args.concurrency, drain=True)
        finally:
            runtime.down()

    out = REPO / "bench" / "results" / "event_pipeline.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"event pipeline on the local target, {results['machine']['cores']} cores")
    print(f"  command: {results['command']}")
    for phase in ("end_to_end", "drain"):
        r = results[phase]
        print(
            f"  {phase:<11} {r['events']} events in {r['seconds']} s = {r['events_per_s']} events/s; "
            f"{r['api_round_trips_per_event']} API round trips, {r['dynamodb_calls_per_event']} DynamoDB calls "
            f"per event; {r['records_stored_per_record_received']} records stored per record received"
        )
    imports = results["handler_import"]
    print(f"  handler cold import: median {imports['venv_median_s']} s (venv)", end="")
    if "lambda_folder_py312_no_bytecode_median_s" in imports:
        print(f", {imports['lambda_folder_py312_no_bytecode_median_s']} s (Lambda folder, py3.12, no bytecode)")
    else:
        print()
    print(f"  written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
