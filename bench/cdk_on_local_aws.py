"""Benchmark: the real cdk CLI against the local AWS.

    .venv/bin/python bench/cdk_on_local_aws.py [--runs 3]

Each run starts a fresh local AWS on a free port and times, with the CLI pinned in
package.json: `cdk synth` of the two-stack app in tests/fixtures/cdk_app, `cdk bootstrap`,
`cdk deploy --all` (through change sets, with an export imported by the second stack), the
same deploy again with no change, and `cdk destroy --all`. Reports medians and writes
bench/results/cdk_on_local_aws.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bwp_workshop import aws
from bwp_workshop.deploy.cdk import pinned_cli_version, run_cdk
from bwp_workshop.local.runtime import LocalRuntime
from bwp_workshop.settings import Settings
from bwp_workshop.testing.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
APP = f"{sys.executable} {ROOT / 'tests' / 'fixtures' / 'cdk_app' / 'app.py'}"
STEPS = ("synth", "bootstrap", "deploy_all", "redeploy_no_change", "destroy_all")


def one_run(state: Path) -> dict[str, float]:
    settings = Settings(project_dir=ROOT, state_dir=state, local_moto_port=free_port())
    runtime = LocalRuntime(settings)
    runtime.up()
    out = state / "cdk.out"
    commands = {
        "synth": ["synth", "--quiet"],
        "bootstrap": ["bootstrap", f"aws://{aws.LOCAL_ACCOUNT_ID}/{settings.region}"],
        "deploy_all": ["deploy", "--all", "--require-approval", "never"],
        "redeploy_no_change": ["deploy", "--all", "--require-approval", "never"],
        "destroy_all": ["destroy", "--all", "--force"],
    }
    times = {}
    try:
        for step in STEPS:
            start = time.perf_counter()
            run_cdk(commands[step], settings, app=APP, output_dir=out)
            times[step] = time.perf_counter() - start
    finally:
        runtime.down()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as state:
            runs.append(one_run(Path(state)))
    results = {
        "machine": {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1)},
        "cdk_cli": pinned_cli_version(Settings(project_dir=ROOT)),
        "runs": args.runs,
        **{
            step: {"median_s": statistics.median(r[step] for r in runs), "max_s": max(r[step] for r in runs)}
            for step in STEPS
        },
    }
    target = ROOT / "bench" / "results" / "cdk_on_local_aws.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(f"cdk CLI {results['cdk_cli']} on the local AWS, {args.runs} runs, {results['machine']['cores']} cores")
    for step in STEPS:
        print(f"  {step:<20} median {results[step]['median_s']:6.2f} s   max {results[step]['max_s']:6.2f} s")
    print(f"  written to {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
