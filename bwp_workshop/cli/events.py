"""``bwp-workshop events ...``: send test events, tail the data table, peek at the DLQ,
redrive it."""

from __future__ import annotations

import json
import time

import click

from ..settings import get_settings
from ..steps import dead_letters, pipeline


@click.group()
def events() -> None:
    """Send test events through the pipeline and look at what arrived (or failed)."""


@events.command()
@click.option("--count", "-n", default=5, show_default=True, help="Orders (sandbox) or events (queue) to send.")
@click.option("--duplicates", default=0, show_default=True, help="Events delivered a second time.")
@click.option("--malformed", default=0, show_default=True, help="Broken events (they end in the DLQ).")
@click.option("--installation", "installation_id", default=None, help="Installation id (default: from settings).")
@click.option(
    "--via",
    type=click.Choice(["auto", "sandbox", "eventbridge", "queue"]),
    default="auto",
    show_default=True,
    help="sandbox: merchant activity in the BwP sandbox (local); eventbridge: synthetic events through "
    "EventStack's test bus (the way on aws); queue: synthetic events straight onto the queue (local).",
)
@click.option("--wait", "wait_seconds", type=float, default=0, help="Then wait this long for the records.")
def send(
    count: int, duplicates: int, malformed: int, installation_id: str | None, via: str, wait_seconds: float
) -> None:
    """Send test events."""
    settings = get_settings()
    sent = pipeline.send_test_events(
        count, settings=settings, installation_id=installation_id, duplicates=duplicates, malformed=malformed, via=via
    )
    click.echo(
        f"sent via {sent['via']}: {len(sent['event_ids'])} events, {sent['malformed']} malformed, "
        f"{sent['messages']} messages in all"
    )
    if wait_seconds:
        records = pipeline.wait_for_records(settings, sent["keys"], timeout=wait_seconds, progress=False)
        click.echo(f"the data table holds the {len(records)} events sent")


def _line(record: dict) -> str:
    order = ""
    if record.get("order_id"):
        total = record.get("order_total_amount")
        state, currency = record.get("order_execution_state", ""), record.get("order_currency", "")
        order = f" order {record['order_id']} {state} {total} {currency}"
    return (
        f"{record.get('received_at', '')}  {record.get('event_type', ''):<34} "
        f"{record.get('installation_id', '')} site {record.get('site_id', '')}{order}"
    ).rstrip()


@events.command()
@click.option("--limit", "-n", default=20, show_default=True, help="How many of the newest records to show.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing records as they arrive (Ctrl-C to stop).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def tail(limit: int, follow: bool, as_json: bool) -> None:
    """Show the newest records of the data table."""
    settings = get_settings()
    shown: set[str] = set()
    records = pipeline.data_records(settings)
    while True:
        fresh = [record for record in records if record["event_id"] not in shown]
        for record in fresh[-limit:] if not shown else fresh:
            click.echo(json.dumps(record, default=str) if as_json else _line(record))
        shown.update(record["event_id"] for record in fresh)
        if not follow:
            return
        time.sleep(2)
        records = pipeline.data_records(settings)


@events.command()
@click.option("--limit", "-n", default=20, show_default=True, help="How many messages to show.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def dlq(limit: int, as_json: bool) -> None:
    """Peek at the dead-letter queue (nothing is removed)."""
    messages = dead_letters.dlq_messages(get_settings(), limit=limit)
    if not messages:
        click.echo("the dead-letter queue is empty")
    for message in messages:
        if as_json:
            click.echo(json.dumps(message, default=str))
            continue
        body = message["body"] if isinstance(message["body"], str) else json.dumps(message["body"])
        click.echo(f"{message['message_id']}  received {message['receive_count']}x  sent {message['sent_at']}")
        click.echo(f"    {body[:200]}")


@events.command()
@click.option(
    "--method",
    type=click.Choice(list(dead_letters.REDRIVE_METHODS)),
    default="auto",
    show_default=True,
    help="move-task: SQS's message move task (aws); copy: receive, send, then delete (local); auto: by target.",
)
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait for the move.")
def redrive(method: str, timeout: float) -> None:
    """Move the dead-letter queue's messages back to the event queue."""
    result = dead_letters.redrive_dead_letters(get_settings(), method=method, timeout=timeout)
    line = (
        f"moved {dead_letters.messages(result['moved'])} from the dead-letter queue to the event queue "
        f"({result['method']})"
    )
    if result["failed"]:
        line += f"; {result['failed']} could not be sent and stay in the dead-letter queue"
    click.echo(line)
