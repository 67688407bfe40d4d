"""Benchmark: the raw rate at which the local AWS (the patched moto server) accepts DynamoDB
puts: the ceiling of the event pipeline on the local target, which stores one item per event.

    .venv/bin/python bench/dynamodb_puts.py [--puts 1000] [--concurrency 4] [--runs 3]

Starts the local runtime on free ports in a temporary state folder, makes a table keyed like
the data table, and puts ``--puts`` items shaped like the handler's records (conditional on
the key being new, as the handler puts them) from ``--concurrency`` threads, each with its own
client, as the event runner's pollers do. Reports puts/s (median of ``--runs``).
Prints a line and writes bench/results/dynamodb_puts_<puts>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from bwp_workshop import aws, names
from bwp_workshop.local.runtime import LocalRuntime
from bwp_workshop.settings import Settings
from bwp_workshop.testing.environment import machine_settings
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.tables import create_data_table

REPO = Path(__file__).resolve().parent.parent


def item(i: int) -> dict[str, Any]:
    """An item the size and shape of a data record."""
    return {
        names.DATA_SK: {"S": str(uuid.uuid4())},
        "event_type": {"S": "ORDER_DELIVERED"},
        names.DATA_PK: {"S": "inst-00000000-0000-4000-8000-000000000000"},
        "site_id": {"S": "site-0000000000"},
        "widget_id": {"S": "widget-0000000000"},
        "order_id": {"S": f"order-{i:08d}"},
        "order_execution_state": {"S": "STARTED"},
        "order_currency": {"S": "USD"},
        "order_total_amount": {"N": "123.45"},
        "order_line_count": {"N": "3"},
        "event_time": {"S": "2026-11-28T08:00:00Z"},
        "received_at": {"N": str(int(time.time() * 1000))},
        "resources": {"L": [{"S": f"businessProduct/bp-1/order/order-{i:08d}"}]},
    }


def put_all(settings: Settings, table: str, n: int, concurrency: int) -> float:
    clients = [
        aws.session(settings).client("dynamodb", endpoint_url=settings.local_aws_endpoint) for _ in range(concurrency)
    ]
    counter = iter(range(n))
    lock = threading.Lock()

    def work(client: Any) -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            client.put_item(TableName=table, Item=item(i), ConditionExpression=f"attribute_not_exists({names.DATA_SK})")

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--puts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for name in machine_settings():
        os.environ.pop(name)

    rates = []
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
            for run in range(args.runs):
                table = f"data-{run}"
                create_data_table(settings, table)
                seconds = put_all(settings, table, args.puts, args.concurrency)
                rates.append(args.puts / seconds)
        finally:
            runtime.down()

    results = {
        "command": f".venv/bin/python bench/dynamodb_puts.py --puts {args.puts} --concurrency {args.concurrency} "
        f"--runs {args.runs}",
        "machine": {
            "cores": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "puts": args.puts,
        "concurrency": args.concurrency,
        "runs": args.runs,
        "puts_per_s": {"median": round(statistics.median(rates), 1), "all": [round(r, 1) for r in rates]},
    }
    out = REPO / "bench" / "results" / f"dynamodb_puts_{args.puts}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"local AWS: {args.puts} conditional DynamoDB puts from {args.concurrency} threads: "
        f"median {results['puts_per_s']['median']} puts/s ({args.runs} runs); written to {out.relative_to(REPO)}"
    )


if __name__ == "__main__":
    main()
