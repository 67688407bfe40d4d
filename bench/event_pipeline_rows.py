"""The event pipeline's rows of the benchmark report (bench/run_all.py): the runs at 1,000,
10,000 and 50,000 events, their rates against the raw conditional put rate, the moto server's
memory and CPU.

The targets are correctness and memory: every event stored exactly once, nothing dead-lettered or
left, the moto server small. Rates are reported without a target: the local target is a
rehearsal and test bed, not a load test (the 300 events/s goal of issue 15 is retired).
"""

from __future__ import annotations

import statistics
from typing import Any

#: Targets of the event pipeline on the local target.
RSS_TARGET_10000 = 500.0  # MiB of the moto server after 10,000 events
RSS_TARGET_50000 = 1024.0  # MiB after 50,000
PYTHON = ".venv/bin/python"
PIPELINE_1000 = "bench/event_pipeline.py --events 1000 --imports 0 --puts 1000"
PIPELINE_10000 = "bench/event_pipeline.py --events 10000 --imports 0 --no-drain --puts 10000"
PIPELINE_50000 = "bench/event_pipeline.py --events 50000 --imports 0 --no-drain --puts 0"


def row(figure: str, value: Any, unit: str, target: str, met: bool | None, command: str) -> dict[str, Any]:
    return {"figure": figure, "value": value, "unit": unit, "target": target, "met": met, "command": command}


def fmt(value: Any, unit: str) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        value = f"{value:.3g}" if value < 100 else f"{value:.0f}"
    return f"{value} {unit}".strip()


def _ratio(result: dict[str, Any]) -> float | None:
    raw = (result.get("raw_puts") or {}).get("puts_per_s")
    return round(result["end_to_end"]["events_per_s"] / raw, 3) if raw else None


def _cpu(result: dict[str, Any]) -> tuple[float, float] | None:
    """moto's CPU milliseconds per event (end to end) and per raw put, when measured."""
    per_event = result["end_to_end"].get("moto_cpu_ms_per_event")
    per_put = (result.get("raw_puts") or {}).get("moto_cpu_ms_per_put")
    return (per_event, per_put) if per_event and per_put else None


def _scale_rows(result: dict[str, Any] | None, n: int, command: str, rss_target: float) -> list[dict[str, Any]]:
    """Figures of one large run: rate, raw rate and ratio, stored once, DLQ, queue, moto RSS."""
    label = f"event pipeline, {n:,} events"
    if not result:
        return [row(f"{label}, end to end (one run)", None, "", "", None, command)]
    e2e = result["end_to_end"]
    load = e2e.get("load_average_1m_at_end")
    rows = []
    if n <= 10000:
        rows.append(
            row(
                f"{label}, end to end (one run; 1-min load {load} at its end)",
                e2e["events_per_s"],
                "events/s",
                "",
                None,
                command,
            )
        )
        ratio = _ratio(result)
        raw = (result.get("raw_puts") or {}).get("puts_per_s")
        rows.append(row(f"{label}: raw conditional puts, same local AWS, same run", raw, "puts/s", "", None, command))
        rows.append(
            row(
                f"{label}: end to end / raw put rate",
                ratio,
                "",
                "",
                None,
                command,
            )
        )
    else:
        rows.append(
            row(
                f"{label} (soak), end to end (1-min load {load} at its end)",
                e2e["events_per_s"],
                "events/s",
                "",
                None,
                command,
            )
        )
    cpu = _cpu(result)
    if cpu:
        rows.append(
            row(f"{label}: moto server CPU per event / per raw put", f"{cpu[0]} / {cpu[1]} ms", "", "", None, command)
        )
    ok = bool(e2e.get("stored_once")) and e2e.get("dead_letters") == 0 and e2e.get("queue_left") == 0
    rows.append(
        row(
            f"{label}: stored exactly once / in the DLQ / left in the queue",
            f"{e2e['records_stored']} of {e2e.get('distinct_events', e2e['events'])} / {e2e.get('dead_letters')} / "
            f"{e2e.get('queue_left')}",
            "",
            "all once / 0 / 0",
            ok,
            command,
        )
    )
    rss = e2e.get("moto_rss_mib")
    rows.append(
        row(
            f"{label}: moto server RSS at the end",
            rss,
            "MiB",
            f"<= {rss_target:g} MiB",
            rss is not None and rss <= rss_target,
            command,
        )
    )
    return rows


def pipeline_rows(
    pipeline_1000: list[dict[str, Any]], pipeline_10000: dict[str, Any] | None, pipeline_50000: dict[str, Any] | None
) -> list[dict[str, Any]]:
    rows = []
    cmd_1000 = f"{PYTHON} {PIPELINE_1000}"
    if pipeline_1000:
        n = len(pipeline_1000)
        e2e = statistics.median(r["end_to_end"]["events_per_s"] for r in pipeline_1000)
        loads = [r["end_to_end"].get("load_average_1m_at_end") for r in pipeline_1000]
        rows.append(
            row(
                f"event pipeline, 1,000 events, end to end (median of {n}; 1-min load at their ends {loads})",
                e2e,
                "events/s",
                "",
                None,
                cmd_1000,
            )
        )
        ratios = [x for x in (_ratio(r) for r in pipeline_1000) if x is not None]
        raws = [r["raw_puts"]["puts_per_s"] for r in pipeline_1000 if r.get("raw_puts")]
        if raws:
            rows.append(
                row(
                    f"local AWS: raw rate of 1,000 conditional puts, same runs (median of {len(raws)})",
                    statistics.median(raws),
                    "puts/s",
                    "",
                    None,
                    cmd_1000,
                )
            )
        if ratios:
            ratio = statistics.median(ratios)
            rows.append(
                row(
                    f"event pipeline 1,000 end to end / raw put rate of the same run (median of {len(ratios)})",
                    ratio,
                    "",
                    "",
                    None,
                    cmd_1000,
                )
            )
        cpu = [c for c in map(_cpu, pipeline_1000) if c]
        if cpu:
            rows.append(
                row(
                    "moto server CPU per event / per raw put, 1,000 events (median; less load-sensitive than rates)",
                    "{} / {} ms".format(*(statistics.median(c[i] for c in cpu) for i in (0, 1))),
                    "",
                    "",
                    None,
                    cmd_1000,
                )
            )
        drains = [r["drain"]["events_per_s"] for r in pipeline_1000 if r.get("drain")]
        if drains:
            rows.append(
                row(
                    f"event pipeline, 1,000 events, consumer alone on a full queue (median of {len(drains)})",
                    statistics.median(drains),
                    "events/s",
                    "",
                    None,
                    cmd_1000,
                )
            )
        last = pipeline_1000[-1]["end_to_end"]
        rows.append(
            row("event pipeline: API round trips per event", last["api_round_trips_per_event"], "", "", None, cmd_1000)
        )
        rows.append(
            row("event pipeline: DynamoDB calls per event", last["dynamodb_calls_per_event"], "", "", None, cmd_1000)
        )
        rows.append(
            row(
                "event pipeline: records stored per SQS record received",
                last["records_stored_per_record_received"],
                "",
                "",
                None,
                cmd_1000,
            )
        )
    else:
        rows.append(row("event pipeline, 1,000 events, end to end", None, "", "", None, cmd_1000))
    rows += _scale_rows(pipeline_10000, 10000, f"{PYTHON} {PIPELINE_10000}", RSS_TARGET_10000)
    soak_cmd = f"{PYTHON} {PIPELINE_50000}  (make bench BENCH_ARGS=--soak)"
    rows += _scale_rows(pipeline_50000, 50000, soak_cmd, RSS_TARGET_50000)
    return rows
