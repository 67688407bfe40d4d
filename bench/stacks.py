"""Benchmark: synthesizing the workshop's three stacks, and deploying them to the local AWS
with the real cdk CLI.

    .venv/bin/python bench/stacks.py [--runs 3]

Synth (targets: <= 8 s): in a fresh Python process each run, the import of the CDK, building
InfraStack, EcsStack and EventStack (the event Lambda's folder already cached) and
``app.synth()`` with the cdk-nag checks, timed inside the process ("in_process_first"); a
second synth in the same process ("in_process_warm"); and the whole process from the shell
("process_total"). Once: the Lambda folder built from nothing (pip included).

Deploy (target: deploy of all three <= 20 s): each run starts a fresh local AWS on a free
port and times the CLI a user runs, each a new process: ``bwp-workshop bootstrap``,
``bwp-workshop deploy all`` (synth, partner bus, secret, asset upload, three change sets),
the same again with no change, and ``bwp-workshop destroy all``.

Prints a table and writes bench/results/stacks.json (medians and maxima of the runs).
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

import psutil

from bwp_workshop.testing.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BUS_ARN = "arn:aws:events:us-east-1:123456789012:event-bus/aws.partner/buywithprime/bench"
SYNTH_SCRIPT = """
import json, sys, time
start = time.perf_counter()
from bwp_workshop.settings import get_settings
from bwp_workshop.stacks.app import build_app
settings = get_settings()
build_app(settings, outdir=sys.argv[1] + "/one").synth()
first = time.perf_counter() - start
start = time.perf_counter()
build_app(settings, outdir=sys.argv[1] + "/two").synth()
print(json.dumps({"in_process_first": first, "in_process_warm": time.perf_counter() - start}))
"""


def environment(state: Path, port: int, build_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BWP_", "AWS_")) and k != "EVENT_BUS_ARN"}
    env.update(
        BWP_PROJECT_DIR=str(ROOT),
        BWP_STATE_DIR=str(state),
        BWP_BUILD_DIR=str(build_dir),
        BWP_LOCAL_MOTO_PORT=str(port),
        EVENT_BUS_ARN=BUS_ARN,
        BWP_CLIENT_ID="bench-client",
        BWP_CLIENT_SECRET="bench-secret-value",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
    )
    return env


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False, timeout=900)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout


def synth_run(build_dir: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state:
        env = environment(Path(state), 4566, build_dir)
        total, out = timed([sys.executable, "-c", SYNTH_SCRIPT, state], env)
        inner = json.loads(out.strip().splitlines()[-1])
    return {"process_total": total, **inner}


def lambda_asset_cold(build_dir: Path) -> float:
    with tempfile.TemporaryDirectory() as state:
        env = environment(Path(state), 4566, Path(state) / "build")
        script = (
            "from bwp_workshop.stacks.lambda_asset import build_lambda_asset; "
            "from bwp_workshop.settings import get_settings; build_lambda_asset(get_settings())"
        )
        elapsed, _ = timed([sys.executable, "-c", script], env)
    return elapsed


def deploy_run(build_dir: Path) -> dict[str, float]:
    from bwp_workshop.local.runtime import LocalRuntime
    from bwp_workshop.settings import Settings

    with tempfile.TemporaryDirectory() as state:
        port = free_port()
        runtime = LocalRuntime(Settings(project_dir=ROOT, state_dir=Path(state), local_moto_port=port))
        runtime.up()
        env = environment(Path(state), port, build_dir)
        cli = str(BIN / "bwp-workshop")
        times = {}
        try:
            times["bootstrap"], _ = timed([cli, "bootstrap"], env)
            times["deploy_all"], out = timed([cli, "deploy", "all", "--quiet"], env)
            assert set(json.loads(out)) == {"InfraStack", "EcsStack", "EventStack"}
            times["redeploy_no_change"], _ = timed([cli, "deploy", "all", "--quiet"], env)
            times["destroy_all"], _ = timed([cli, "destroy", "all", "--yes"], env)
        finally:
            runtime.down()
    return times


def summary(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        key: {
            "median_s": round(statistics.median(r[key] for r in runs), 2),
            "max_s": round(max(r[key] for r in runs), 2),
        }
        for key in runs[0]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    build_dir = ROOT / ".bwp" / "build"
    if not shutil.which("node"):
        raise SystemExit("node is needed for the cdk CLI")

    load_before = os.getloadavg()
    asset_cold = lambda_asset_cold(build_dir)
    synth_runs = [synth_run(build_dir) for _ in range(args.runs)]
    deploy_runs = [deploy_run(build_dir) for _ in range(args.runs)]
    results = {
        "command": f".venv/bin/python bench/stacks.py --runs {args.runs}",
        "machine": {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1)},
        # Other work on the machine slows every figure; the 1-minute load average before and after.
        "load_average_1min": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "runs": args.runs,
        "lambda_asset_cold_build_s": round(asset_cold, 2),
        "synth": summary(synth_runs),
        "local_deploy": summary(deploy_runs),
        "targets": {"synth_s": 8, "deploy_all_s": 20},
    }
    results["meets_targets"] = {
        "synth (in_process_first)": results["synth"]["in_process_first"]["median_s"] <= 8,
        "deploy_all": results["local_deploy"]["deploy_all"]["median_s"] <= 20,
    }
    out = ROOT / "bench" / "results" / "stacks.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'measure':<36} {'median s':>9} {'max s':>7}")
    for group in ("synth", "local_deploy"):
        for key, value in results[group].items():
            print(f"{group + '.' + key:<36} {value['median_s']:>9.2f} {value['max_s']:>7.2f}")
    print(f"{'lambda asset, cold build':<36} {asset_cold:>9.2f}")
    print(json.dumps(results["meets_targets"]))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
