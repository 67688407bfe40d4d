"""Benchmark: a newcomer's first loop. From `git clone` to the end of the first `make workshop`
(set-up included), then `make check` and, with ``--with-make-test``, `make test` in that clone.
Targets (``TARGETS``): clone to first workshop <= 2 min; `make check` <= 60 s; `make test` <= 6 min.

    .venv/bin/python bench/fresh_clone.py [--with-make-test]

The clone is made from this checkout's committed HEAD into a temporary folder, with free ports
of its own (nothing of this checkout's .env or .bwp/ is used) and the caches a machine keeps
between projects (pip's, uv's and npm's in the home folder) as they are. Prints the figures and
writes bench/results/fresh_clone.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from workshop_run import ROW  # the run table's rows, as bench/workshop_run.py reads them

from bwp_workshop.testing.checkout import CHECKOUT
from bwp_workshop.testing.environment import clean_environ
from bwp_workshop.testing.ports import free_port

#: The targets, in seconds (bench/run_all.py reports against these).
TARGETS = {"clone_to_first_workshop": 120, "make_check": 60, "make_test": 360}


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    return seconds, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-make-test", action="store_true", help="also time `make test` in the clone")
    parser.add_argument("--out", type=Path, default=CHECKOUT / "bench" / "results" / "fresh_clone.json")
    args = parser.parse_args()
    env = clean_environ(
        BWP_LOCAL_MOTO_PORT=str(free_port()),
        BWP_LOCAL_SANDBOX_PORT=str(free_port()),
        BWP_LOCAL_APP_PORT=str(free_port()),
        BWP_LOCAL_EVENT_RUNNER_PORT=str(free_port()),
    )
    result: dict = {"command": ".venv/bin/python bench/fresh_clone.py", "cores": os.cpu_count(), "runs": {}}
    with tempfile.TemporaryDirectory(prefix="bwp-bench-clone-") as tmp:
        clone = Path(tmp) / "bwp-workshop"
        started = time.perf_counter()
        timed(["git", "clone", "--quiet", str(CHECKOUT), str(clone)], Path(tmp), env)
        _, output = timed(["make", "workshop"], clone, env)
        notebooks = {m.group(1): float(m.group(2)) for m in map(ROW.match, output.splitlines()) if m}
        result["clone_to_first_workshop_seconds"] = round(time.perf_counter() - started, 1)
        result["first_workshop_notebooks_seconds"] = round(sum(notebooks.values()), 1)
        result["setup_seconds"] = round(result["clone_to_first_workshop_seconds"] - sum(notebooks.values()), 1)
        result["notebooks"] = notebooks
        result["load_after_workshop"] = round(os.getloadavg()[0], 2)
        check_s, _ = timed(["make", "check"], clone, env)
        result["make_check_seconds"] = round(check_s, 1)
        result["load_after_check"] = round(os.getloadavg()[0], 2)
        if args.with_make_test:
            test_s, _ = timed(["make", "test"], clone, env)
            result["make_test_seconds"] = round(test_s, 1)
            result["load_after_test"] = round(os.getloadavg()[0], 2)
        subprocess.run(["make", "down"], cwd=clone, env=env, capture_output=True, check=False)
    print(
        f"clone to the end of the first `make workshop`: {result['clone_to_first_workshop_seconds']} s "
        f"(set-up and runtime {result['setup_seconds']} s, notebooks {result['first_workshop_notebooks_seconds']} s; "
        f"1-min load {result['load_after_workshop']})   target <= {TARGETS['clone_to_first_workshop']} s"
    )
    print(f"`make check` (cold caches): {result['make_check_seconds']} s   target <= {TARGETS['make_check']} s")
    if "make_test_seconds" in result:
        print(f"`make test`: {result['make_test_seconds']} s   target <= {TARGETS['make_test']} s")
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
