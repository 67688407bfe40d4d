"""The pipeline's alarms from a notebook (06): wait for the dead-letter queue alarm, and the
composite "pipeline unhealthy" above it, to reach a state, and show both.

On aws, CloudWatch evaluates the alarms (the SQS metrics arrive once a minute, so a change
takes one to three minutes). On local, the event runner process evaluates the stacks' own
alarm definitions on the queue depth it samples and on the handler's EMF metrics
(:mod:`bwp_workshop.local.alarm_evaluation`), and writes the state to the local AWS: the same
states, reached the same way, on an emulated CloudWatch."""

from __future__ import annotations

import time
from typing import Any

from .. import aws, names
from ..errors import WorkshopError
from ..outputs import stack_output
from ..settings import Settings
from .pipeline import queue_depths

ALARM = "ALARM"
OK = "OK"
#: How long the composite may lag its child before the rows are shown as they are.
COMPOSITE_LAG_SECONDS = 30.0


def pipeline_alarms(settings: Settings) -> list[dict[str, Any]]:
    """The dead-letter queue alarm and the composite, as CloudWatch describes them now."""
    wanted = [
        stack_output(settings, names.EVENT_STACK, names.OUT_DLQ_ALARM),
        stack_output(settings, names.EVENT_STACK, names.OUT_PIPELINE_ALARM),
    ]
    described = aws.client("cloudwatch", settings).describe_alarms(
        AlarmNames=wanted, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    found = {a["AlarmName"]: a for a in described.get("MetricAlarms", []) + described.get("CompositeAlarms", [])}
    return [
        {
            "alarm": name,
            "state": found[name]["StateValue"] if name in found else "(missing)",
            "since": str(found[name].get("StateUpdatedTimestamp", ""))[:19] if name in found else "",
            "reason": found[name].get("StateReason", "") if name in found else "redeploy EventStack (notebook 05)",
        }
        for name in wanted
    ]


def wait_for_dead_letter_alarm(
    state: str, settings: Settings, *, timeout: float = 600.0, progress: bool = True
) -> list[dict[str, Any]]:
    """Wait until the dead-letter queue alarm is in ``state`` (``ALARM`` or ``OK``) and return
    both alarms. Waiting for OK while the queue still holds older dead letters does not wait:
    the alarm rightly stays in ALARM, and the rows say why."""
    if state not in (ALARM, OK):
        raise ValueError(f"state must be {ALARM} or {OK}, not {state!r}")
    waiting = queue_depths(settings)["dead_letter_queue"]
    if state == OK and waiting:
        rows = pipeline_alarms(settings)
        print(
            f"The dead-letter queue holds {waiting} older message(s): its alarm stays in ALARM until they are handled."
        )
        return rows
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    shown = -1
    reached: float | None = None
    while True:
        rows = pipeline_alarms(settings)
        if rows[0]["state"] == state:
            reached = reached or time.monotonic()
            # The composite follows its children within a round of evaluation; another child
            # in ALARM keeps it there, and the rows show it.
            if rows[1]["state"] == state or time.monotonic() - reached > COMPOSITE_LAG_SECONDS:
                if progress:
                    print(f"the dead-letter queue alarm is {state} after {time.monotonic() - started:.0f} s")
                return rows
        if time.monotonic() > deadline:
            raise WorkshopError(
                f"The dead-letter queue alarm is {rows[0]['state']}, not {state}, after {timeout:.0f} s.",
                hint="On local the event runner evaluates the alarms: is it up (`bwp-workshop local status`)? "
                "On aws, CloudWatch's SQS metrics can lag a few minutes: run the cell again.",
            )
        elapsed = int(time.monotonic() - started)
        if progress and elapsed // 15 != shown:
            shown = elapsed // 15
            print(f"waiting for {state}: the alarm is {rows[0]['state']} ({elapsed} s)")
        time.sleep(2.0)
