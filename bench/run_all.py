"""Every benchmark on the local target, and one report: bench/results.md and bench/results.json.

    .venv/bin/python bench/run_all.py [--with-make-test] [--quick] [--soak]   (``make bench`` runs it;
                                                                    ``make bench BENCH_ARGS=--soak``)

Runs each script of bench/ in its own process (each starts what it needs on free ports and
writes its figures under bench/results/), then gathers the figures into one table: figure,
value (medians of several runs), target, whether it is met, and the command that reproduces
it; with the machine's cores, memory and load average. A missed target is reported as missed.

- ``--with-make-test`` also times ``make test`` (minutes; setup already done);
- ``--quick`` runs fewer repeats (for a look, not for the README);
- ``--soak`` also runs the 50,000-event soak of the event pipeline (about ten minutes or more).
Each event pipeline run measures the raw conditional put rate on its own local AWS first, so
its ratio compares two figures taken at the same moment on the same (shared) machine.
The headless workshop run comes from bench/workshop_run.py when that script exists (its
results in bench/results/workshop_run.json); otherwise the report says "not measured".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from event_pipeline_rows import (
    PIPELINE_1000,
    PIPELINE_10000,
    PIPELINE_50000,
    PYTHON,
    fmt,
    pipeline_rows,
    row,
)
from fresh_clone import TARGETS

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
RESULTS = BENCH / "results"


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def run(command: str, log: list[dict[str, Any]]) -> bool:
    """Run one benchmark command from the project folder; False (and a note) if it failed."""
    print(f"$ {command}", flush=True)
    load_before = round(os.getloadavg()[0], 2)
    start = time.perf_counter()
    done = subprocess.run(command, shell=True, cwd=REPO, check=False, stderr=subprocess.PIPE, text=True)
    sys.stderr.write(done.stderr)
    seconds = round(time.perf_counter() - start, 1)
    log.append(
        {
            "command": command,
            "exit_code": done.returncode,
            "seconds": seconds,
            "load_average_1m": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
        }
    )
    if done.returncode != 0:
        log[-1]["error"] = (done.stderr.strip().splitlines() or [""])[-1][:300]
        print(f"  failed (exit code {done.returncode})", flush=True)
    return done.returncode == 0


def read(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--with-make-test", action="store_true", help="also time `make test` (minutes)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report from bench/results/ only")
    parser.add_argument("--soak", action="store_true", help="also the 50,000-event soak (ten minutes or more)")
    args = parser.parse_args()
    quick = args.quick
    log: list[dict[str, Any]] = []
    started = machine()
    t0 = time.perf_counter()

    pipeline_runs = 1 if quick else 3
    commands = {
        "local_runtime": f"{PYTHON} bench/local_runtime.py --runs {2 if quick else 5}",
        "sandbox": f"{PYTHON} bench/sandbox_latency.py --requests {100 if quick else 400}",
        "oauth": f"{PYTHON} bench/oauth_install.py --installs {50 if quick else 200} --warmup 20",
        "cold_import": f"{PYTHON} bench/lambda_cold_import.py --runs {3 if quick else 9}",
        "stacks": f"{PYTHON} bench/stacks.py --runs {1 if quick else 3}",
        "fresh_clone": f"{PYTHON} bench/fresh_clone.py",
    }
    previous: dict[str, Any] = {}
    if args.report_only:
        pipeline_runs = 0
        previous = read("../results.json") or {}
        log = previous.get("runs", [])
    for command in [] if args.report_only else commands.values():
        run(command, log)

    # The event pipeline: 1,000 events several times (median), 10,000 once (minutes).
    pipeline_1000 = []
    if args.report_only:
        pipeline_1000 = [read(p.name) for p in sorted(RESULTS.glob("event_pipeline_1000_run*.json"))]
    for i in range(pipeline_runs):
        out = RESULTS / f"event_pipeline_1000_run{i + 1}.json"
        if run(f"{PYTHON} {PIPELINE_1000} --out {out.relative_to(REPO)}", log):
            pipeline_1000.append(json.loads(out.read_text()))
    out_10000 = RESULTS / "event_pipeline_10000.json"
    if not args.report_only:
        out_10000.unlink(missing_ok=True)
        out = out_10000.relative_to(REPO)
        run(f"{PYTHON} {PIPELINE_10000} --out {out}", log)
    pipeline_10000 = read("event_pipeline_10000.json")
    if args.soak and not args.report_only:
        (RESULTS / "event_pipeline_50000.json").unlink(missing_ok=True)
        run(f"{PYTHON} {PIPELINE_50000} --out bench/results/event_pipeline_50000.json", log)
    pipeline_50000 = read("event_pipeline_50000.json")

    workshop_script = BENCH / "workshop_run.py"
    workshop = None
    if args.report_only:
        workshop = read("workshop_run.json")
    elif workshop_script.is_file():
        (RESULTS / "workshop_run.json").unlink(missing_ok=True)
        if run(f"{PYTHON} bench/workshop_run.py", log):
            workshop = read("workshop_run.json")

    make_test_s = None
    if args.with_make_test:
        start = time.perf_counter()
        if run("make test", log):
            make_test_s = round(time.perf_counter() - start, 1)
        (RESULTS / "make_test.json").write_text(
            json.dumps({"command": "time make test", "seconds": make_test_s, "machine": machine()}, indent=2) + "\n"
        )
    elif read("make_test.json"):
        make_test_s = read("make_test.json")["seconds"]  # type: ignore[index]

    rows = figures(commands, pipeline_1000, pipeline_10000, workshop, make_test_s, pipeline_50000)
    if args.report_only:
        # The runs log is the last full run's; event pipeline runs measured since (by their own
        # commands) replace its failures, and the report says when it was rebuilt.
        log = [r for r in log if not ("event_pipeline.py" in r["command"] and r["exit_code"] != 0)]
        if (read("fresh_clone.json") or {}).get("make_test_seconds"):  # timed since, and passed
            log = [r for r in log if r["command"] != "make test"]
    report = {
        "rebuilt": {"at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **machine()}
        if args.report_only
        else None,
        "machine": previous.get("machine") or {"at_start": started, "at_end": machine()},
        "total_seconds": previous.get("total_seconds", 0) if args.report_only else round(time.perf_counter() - t0, 1),
        "quick": quick,
        "figures": rows,
        "runs": log,
    }
    (BENCH / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (BENCH / "results.md").write_text(markdown(report))
    print((BENCH / "results.md").read_text())


def figures(
    commands: dict[str, str],
    pipeline_1000: list[dict[str, Any]],
    pipeline_10000: dict[str, Any] | None,
    workshop: dict[str, Any] | None,
    make_test_s: float | None,
    pipeline_50000: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    rows = []
    # --- the headless workshop run
    workshop_cmd = f"{PYTHON} bench/workshop_run.py"
    if workshop:
        total = workshop.get("total_seconds")
        rows.append(row("headless workshop run, warm: total", total, "s", "<= 30 s", total <= 30, workshop_cmd))
        for name, seconds in (workshop.get("notebooks") or {}).items():
            rows.append(row(f"headless workshop run: {name}", seconds, "s", "", None, workshop_cmd))
    else:
        rows.append(row("headless workshop run, warm: total", None, "", "<= 30 s", None, workshop_cmd))

    make_test_cmd = "time make test"
    clone = read("fresh_clone.json")
    if clone:
        first, check = clone["clone_to_first_workshop_seconds"], clone["make_check_seconds"]
        load = f"1-min load {clone['load_after_workshop']}"
        name = f"from `git clone` to the end of the first `make workshop` ({load}; set-up {clone['setup_seconds']} s)"
        first_target, check_target = TARGETS["clone_to_first_workshop"], TARGETS["make_check"]
        rows.append(row(name, first, "s", f"<= {first_target} s", first <= first_target, commands["fresh_clone"]))
        rows.append(row("`make check` in that fresh clone (cold caches)", check, "s", f"<= {check_target} s",
                        check <= check_target, commands["fresh_clone"]))  # fmt: skip
        if clone.get("make_test_seconds"):
            make_test_s = clone["make_test_seconds"]  # from the fresh clone, as CI runs it
            make_test_cmd = f"{commands['fresh_clone']} --with-make-test"

    # --- the event pipeline
    rows += pipeline_rows(pipeline_1000, pipeline_10000, pipeline_50000)

    # --- OAuth install and the sandbox
    oauth = read("oauth_install.json")
    if oauth:
        p50, p99 = oauth["round_trip"]["p50_ms"], oauth["round_trip"]["p99_ms"]
        target = oauth.get("target_p50_ms", 25.0)
        rows.append(
            row(
                "OAuth install round trip (launch -> authorize -> install -> stored), p50",
                p50,
                "ms",
                f"<= {target:g} ms",
                p50 <= target,
                oauth["command"],
            )
        )
        rows.append(row("OAuth install round trip, p99", p99, "ms", "", None, oauth["command"]))
    sandbox = read("sandbox_latency.json")
    if sandbox:
        targets = sandbox.get("targets", {})
        for key, label, target_key in (
            ("token_exchange", "sandbox token exchange (code + PKCE)", "token_exchange_p50_ms"),
            ("token_refresh", "sandbox token refresh", "token_exchange_p50_ms"),
            ("order_query", "sandbox GraphQL order query", "order_query_p50_ms"),
        ):
            p50, p99 = sandbox[key]["p50_ms"], sandbox[key]["p99_ms"]
            target = targets.get(target_key)
            rows.append(
                row(
                    f"{label}, p50",
                    p50,
                    "ms",
                    f"<= {target:g} ms" if target else "",
                    p50 <= target if target else None,
                    sandbox["command"],
                )
            )
            rows.append(row(f"{label}, p99", p99, "ms", "", None, sandbox["command"]))

    # --- stacks, local runtime, Lambda
    stacks = read("stacks.json")
    if stacks:
        synth = stacks["synth"]["in_process_first"]["median_s"]
        deploy = stacks["local_deploy"]["deploy_all"]["median_s"]
        t = stacks.get("targets", {})
        rows.append(
            row(
                "CDK synth of the three stacks (in process, cdk-nag on)",
                synth,
                "s",
                f"<= {t.get('synth_s', 8)} s",
                synth <= t.get("synth_s", 8),
                stacks["command"],
            )
        )
        rows.append(
            row(
                "CDK synth, whole `python` process",
                stacks["synth"]["process_total"]["median_s"],
                "s",
                "",
                None,
                stacks["command"],
            )
        )
        rows.append(
            row(
                "local deploy-all of the three stacks (`bwp-workshop deploy all`)",
                deploy,
                "s",
                f"<= {t.get('deploy_all_s', 20)} s",
                deploy <= t.get("deploy_all_s", 20),
                stacks["command"],
            )
        )
        rows.append(
            row(
                "no-change `deploy all` / `destroy all`",
                "{} / {}".format(
                    stacks["local_deploy"]["redeploy_no_change"]["median_s"],
                    stacks["local_deploy"]["destroy_all"]["median_s"],
                ),
                "s",
                "",
                None,
                stacks["command"],
            )
        )
    runtime = read("local_runtime.json")
    if runtime:
        rows.append(
            row(
                "`local up` to healthy moto server and sandbox",
                round(runtime["up_to_healthy_s"]["median"], 2),
                "s",
                "",
                None,
                commands["local_runtime"],
            )
        )
    cold = read("lambda_cold_import.json")
    if cold:
        rows.append(row("event handler cold import (venv)", cold["venv_median_s"], "s", "", None, cold["command"]))
        if cold.get("lambda_folder_py312_bytecode_median_s") is not None:
            rows.append(
                row(
                    "event handler cold import, Lambda folder on Python 3.12, with its bytecode",
                    cold["lambda_folder_py312_bytecode_median_s"],
                    "s",
                    "",
                    None,
                    cold["command"],
                )
            )
            rows.append(
                row(
                    "... the same folder without bytecode (as built before)",
                    cold["lambda_folder_py312_no_bytecode_median_s"],
                    "s",
                    "",
                    None,
                    cold["command"],
                )
            )

    # --- the tests
    rows.append(
        row(
            "`make test` (set-up, lint, tests: `.ci/run`'s command; in a fresh clone by bench/fresh_clone.py)",
            round(make_test_s / 60, 1) if make_test_s else None,
            "min",
            f"<= {TARGETS['make_test'] // 60} min",
            (make_test_s <= TARGETS["make_test"]) if make_test_s else None,
            make_test_cmd,
        )
    )
    return rows


def markdown(report: dict[str, Any]) -> str:
    start, end = report["machine"]["at_start"], report["machine"]["at_end"]
    lines: list[str] = [
        "# Measurements",
        "",
        f"On {start['cores']} cores and {start['memory_gib']} GiB of memory ({start['system']}, Python "
        f"{start['python']}); load average (1, 5, 15 min) {start['load_average']} at the start, "
        f"{end['load_average']} at the end. The load of each benchmark is in `bench/results.json` "
        f"(`runs`). Produced by `make bench` (`{PYTHON} bench/run_all.py"
        f"{' --quick' if report['quick'] else ''}`) in {report['total_seconds'] / 60:.0f} min; "
        "each figure is a median of several runs unless it says otherwise.",
        "",
    ]
    rebuilt = report.get("rebuilt")
    if rebuilt:
        lines += [
            f"Rebuilt from `bench/results/` on {rebuilt['at']} (`run_all.py --report-only`; load "
            f"{rebuilt['load_average']} then): the event pipeline rows were measured after that run, "
            "at the loads their rows name (see the notes at the end).",
            "",
        ]
    lines += [
        "| figure | value | target | met? | command |",
        "|---|---|---|---|---|",
    ]
    for r in report["figures"]:
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(f"| {r['figure']} | {fmt(r['value'], r['unit'])} | {r['target']} | {met} | `{r['command']}` |")
    missed = [r["figure"] for r in report["figures"] if r["met"] is False]
    lines += ["", "Targets missed: " + ("; ".join(missed) if missed else "none") + "."]
    failed = [r for r in report["runs"] if r["exit_code"] != 0]
    if failed:
        lines += ["", "Benchmarks that failed (their figures are missing or older):", ""]
        lines += [f"- `{r['command']}`: {r.get('error') or 'exit code ' + str(r['exit_code'])}" for r in failed]
    notes = BENCH / "results-notes.md"
    if notes.is_file():  # what the figures mean and where the time goes (written by hand)
        lines += ["", notes.read_text().rstrip()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
