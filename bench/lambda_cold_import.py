"""Benchmark: the event Lambda's cold import, ``import handler`` in a fresh interpreter.

    .venv/bin/python bench/lambda_cold_import.py [--runs 9]

Measures (median of ``--runs`` fresh processes each):
- venv: the handler imported by this venv's Python (what the local event runner pays once);
- Lambda folder, Python 3.12, with the bytecode the build compiles (as deployed);
- the same folder without any bytecode (as the folder was before it carried bytecode), with
  ``-B`` so nothing is written, as on Lambda's read-only file system.
The folder runs with ``python3.12 -I -S``: nothing but the folder and the standard library.
Prints a table and writes bench/results/lambda_cold_import.json.
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
from pathlib import Path

import psutil

from bwp_workshop.settings import Settings
from bwp_workshop.stacks.lambda_asset import build_lambda_asset, python312

REPO = Path(__file__).resolve().parent.parent

HANDLER_DIR = REPO / "lambdas" / "event_handler"
IMPORT_SCRIPT = "import time; t = time.perf_counter(); import handler; print(time.perf_counter() - t)"


def _median(command: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        out = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return round(statistics.median(times), 3)


def measure(runs: int) -> dict[str, float | str | None]:
    result: dict[str, float | str | None] = {
        "venv_median_s": _median([sys.executable, "-c", IMPORT_SCRIPT], HANDLER_DIR, runs)
    }
    python = python312()
    result["python312"] = python
    if python is None:
        return result
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(project_dir=REPO, state_dir=Path(tmp) / ".bwp", build_dir=REPO / ".bwp" / "build")
        folder = build_lambda_asset(settings, out_dir=Path(tmp) / "asset")
        bare = Path(tmp) / "bare"
        shutil.copytree(folder, bare, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name, where in (
            ("lambda_folder_py312_bytecode_median_s", folder),
            ("lambda_folder_py312_no_bytecode_median_s", bare),
        ):
            script = f"import sys; sys.path.insert(0, {str(where)!r}); {IMPORT_SCRIPT}"
            result[name] = _median([python, "-I", "-S", "-B", "-c", script], where, runs)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    results = {
        "command": f".venv/bin/python bench/lambda_cold_import.py --runs {args.runs}",
        "machine": {
            "cores": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average_1m_at_end": None,
        },
        "runs": args.runs,
        **measure(args.runs),
    }
    results["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    out = REPO / "bench" / "results" / "lambda_cold_import.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"handler cold import, median of {args.runs}: venv {results['venv_median_s']} s", end="")
    if results.get("python312"):
        print(
            f"; Lambda folder on Python 3.12: {results['lambda_folder_py312_bytecode_median_s']} s with its bytecode, "
            f"{results['lambda_folder_py312_no_bytecode_median_s']} s without"
        )
    else:
        print("; no Python 3.12 here for the Lambda folder")
    print(f"  written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
