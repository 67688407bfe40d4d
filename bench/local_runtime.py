"""Benchmark: how fast the local runtime (moto server and the BwP sandbox) comes up and goes
down, and what it costs in memory.

    .venv/bin/python bench/local_runtime.py [--runs 5]

Starts and stops the local runtime (the patched moto server and the sandbox) ``--runs`` times
on free ports in a temporary state folder, and reports the median and worst time from `up` to
healthy services, the time of `down`, the time of `reset`, and each server's resident memory
once up.
Prints a table and writes bench/results/local_runtime.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from bwp_workshop.local.runtime import LocalRuntime
from bwp_workshop.settings import Settings
from bwp_workshop.testing.ports import free_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    up_s, down_s, reset_s, rss_mib, sandbox_rss_mib = [], [], [], [], []
    with tempfile.TemporaryDirectory() as state:
        for _ in range(args.runs):
            runtime = LocalRuntime(
                Settings(state_dir=Path(state), local_moto_port=free_port(), local_sandbox_port=free_port())
            )
            start = time.perf_counter()
            moto, sandbox = runtime.up()
            up_s.append(time.perf_counter() - start)
            rss_mib.append(psutil.Process(moto.pid).memory_info().rss / 2**20)
            sandbox_rss_mib.append(psutil.Process(sandbox.pid).memory_info().rss / 2**20)
            start = time.perf_counter()
            runtime.reset()
            reset_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            runtime.down()
            down_s.append(time.perf_counter() - start)

    results = {
        "machine": {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1)},
        "runs": args.runs,
        "up_to_healthy_s": {"median": statistics.median(up_s), "max": max(up_s)},
        "reset_s": {"median": statistics.median(reset_s), "max": max(reset_s)},
        "down_s": {"median": statistics.median(down_s), "max": max(down_s)},
        "moto_rss_mib_when_up": {"median": statistics.median(rss_mib), "max": max(rss_mib)},
        "sandbox_rss_mib_when_up": {"median": statistics.median(sandbox_rss_mib), "max": max(sandbox_rss_mib)},
    }
    out = Path(__file__).resolve().parent / "results" / "local_runtime.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"local runtime, {args.runs} runs, {results['machine']['cores']} cores, {results['machine']['memory_gib']} GiB"
    )
    for name in ("up_to_healthy_s", "reset_s", "down_s", "moto_rss_mib_when_up", "sandbox_rss_mib_when_up"):
        print(f"  {name:<22} median {results[name]['median']:8.3f}   max {results[name]['max']:8.3f}")
    print(f"  written to {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")


if __name__ == "__main__":
    main()
