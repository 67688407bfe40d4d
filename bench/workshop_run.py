"""Benchmark: the whole workshop headless on the local target (`bwp-workshop run`), total and
per notebook. Target: <= 30 s warm on a quiet 2-core machine.

    .venv/bin/python bench/workshop_run.py [--runs 3]

The runs share one state folder, .env file and set of free ports of their own (the checkout's
.bwp/ and .env are not touched), as `make workshop` run again in a checkout does. The first run
is "cold" in that its state folder is new (the Lambda folder is built, the sandbox makes its
key, the stacks are synthesized); the later runs are the "warm" figure. Prints a table and writes
bench/results/workshop_run.json (or ``--out``): ``{"total_seconds": <median of warm runs>,
"notebooks": {name: median seconds}, "runs": [each run with its 1-min load], ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bwp_workshop.testing.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ROW = re.compile(r"^\s+(\d\d-[\w-]+)\s+passed\s+([\d.]+) s$")


def run_environment(folder: Path) -> dict[str, str]:
    """The environment of every run: the state folder, .env and free ports of ``folder``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BWP_", "AWS_")) and k != "EVENT_BUS_ARN"}
    env.update(
        BWP_PROJECT_DIR=str(ROOT),
        BWP_STATE_DIR=str(folder / ".bwp"),
        BWP_ENV_FILE=str(folder / ".env"),
        BWP_LOCAL_MOTO_PORT=str(free_port()),
        BWP_LOCAL_SANDBOX_PORT=str(free_port()),
        BWP_LOCAL_APP_PORT=str(free_port()),
        BWP_LOCAL_EVENT_RUNNER_PORT=str(free_port()),
    )
    return env


def one_run(folder: Path, env: dict[str, str]) -> dict:
    subprocess.run([str(BIN / "bwp-workshop"), "local", "down"], env=env, capture_output=True, check=False)
    started = time.perf_counter()
    result = subprocess.run(
        [str(BIN / "bwp-workshop"), "run", "--output-dir", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    total = time.perf_counter() - started
    subprocess.run([str(BIN / "bwp-workshop"), "local", "down"], env=env, capture_output=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"the workshop run failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    notebooks = {m.group(1): float(m.group(2)) for m in map(ROW.match, result.stdout.splitlines()) if m}
    return {"total_seconds": total, "notebooks": notebooks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs; the first is cold, the rest warm")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "workshop_run.json")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bwp-bench-workshop-") as tmp:
        env = run_environment(Path(tmp))
        for number in range(max(args.runs, 2)):
            runs.append(one_run(Path(tmp) / f"out{number}", env))
            load = os.getloadavg()[0]
            runs[-1]["load_average_1m"] = round(load, 2)
            print(f"run {number + 1}: {runs[-1]['total_seconds']:.1f} s (1-min load {load:.2f})", flush=True)
    warm = runs[1:]
    names = list(warm[0]["notebooks"])
    result = {
        "command": ".venv/bin/python bench/workshop_run.py --runs " + str(args.runs),
        "machine": {"cores": os.cpu_count(), "load_average_1m": os.getloadavg()[0]},
        "target_seconds": 30,
        "cold_total_seconds": round(runs[0]["total_seconds"], 1),
        "total_seconds": round(statistics.median(r["total_seconds"] for r in warm), 1),
        "notebooks": {n: round(statistics.median(r["notebooks"][n] for r in warm), 1) for n in names},
        "runs": [
            {
                "total_seconds": round(r["total_seconds"], 1),
                "load_average_1m": r["load_average_1m"],
                "notebooks": {n: round(s, 1) for n, s in r["notebooks"].items()},
            }
            for r in runs
        ],
    }
    print(f"{'notebook':<28}{'seconds':>8}")
    for name, seconds in result["notebooks"].items():
        print(f"{name:<28}{seconds:>8.1f}")
    print(
        f"{'total (warm, median)':<28}{result['total_seconds']:>8.1f}   target <= 30 s; "
        f"cold {result['cold_total_seconds']} s"
    )
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
