"""The event pipeline's dead-letter queue from a notebook or the CLI (notebook 06): a look at
what it holds with the handler's reason for each message, a wait for the dead letters of one
send, the removal of given dead letters (what can never succeed), and the redrive that moves
its messages back to the event queue."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from .. import aws, names
from ..errors import ConfigurationError, WorkshopError
from ..outputs import stack_output
from ..settings import Settings
from ..targets import choose_target
from .operator_role import operator_client
from .pipeline import queue_depths

#: At most this many dead letters are read in one look.
_MAX_LOOK = 1000


def dlq_messages(settings: Settings, limit: int = 100, *, since: float | None = None) -> list[dict[str, Any]]:
    """A look at the dead-letter queue that removes nothing: up to ``limit`` messages with
    their id, receive count, sent time, why the handler refused them (from its log) and body
    (parsed when it is JSON). ``since``: only messages sent at or after that epoch time.

    SQS has no read-only peek: a look is a receive, so each look adds one to every message's
    receive count (the messages are made visible again at once)."""
    sqs = aws.client("sqs", settings)
    url = stack_output(settings, names.EVENT_STACK, names.OUT_DLQ_URL)
    seen: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    try:
        while len(seen) < _MAX_LOOK:
            # Received messages stay hidden while we look, so each receive returns new ones;
            # they are made visible again below.
            response = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=30,
                AttributeNames=["All"],
                MessageAttributeNames=[names.FAILURE_REASON_ATTRIBUTE],
                WaitTimeSeconds=0,
            )
            messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not messages:
                break
            for message in messages:
                handles.append(message["ReceiptHandle"])
                seen[message["MessageId"]] = _dead_letter(message)
    finally:
        for start in range(0, len(handles), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for n, handle in enumerate(handles[start : start + 10])
            ]
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
    found = sorted(seen.values(), key=lambda message: message["sent_at"])
    if since is not None:
        found = [message for message in found if message["sent_at"] >= _utc(since)]
    found = found[-limit:]
    # What the handler dead-lettered itself carries its reason; what the queue moved after its
    # last receive has it in the handler's log only.
    reasons = failure_reasons([message["message_id"] for message in found if not message["reason"]], settings)
    for message in found:
        message["reason"] = message["reason"] or reasons.get(message["message_id"], "(not in the handler's log)")
    return found


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _dead_letter(message: dict[str, Any]) -> dict[str, Any]:
    try:
        body: Any = json.loads(message.get("Body", ""))
    except ValueError:
        body = message.get("Body", "")
    attributes = message.get("Attributes", {})
    return {
        "message_id": message["MessageId"],
        "sent_at": _utc(int(attributes.get("SentTimestamp", "0")) / 1000),
        "receive_count": int(attributes.get("ApproximateReceiveCount", "0")),
        "reason": message.get("MessageAttributes", {}).get(names.FAILURE_REASON_ATTRIBUTE, {}).get("StringValue", ""),
        "body": body,
    }


#: The handler's log line for a record it reports as failed (``lambdas/event_handler``).
FAILED_RECORD_LINES = ("record failed", "record failed unexpectedly")


def failure_reasons(message_ids: list[str], settings: Settings) -> dict[str, str]:
    """Why the handler failed each message, from its log: the local event runner's log file on
    local, the function's CloudWatch log group on aws. The newest line per message wins."""
    wanted = set(message_ids)
    if not wanted:
        return {}
    reasons: dict[str, str] = {}
    for line in _handler_log_lines(settings):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("message") not in FAILED_RECORD_LINES:
            continue
        if entry.get("message_id") in wanted:
            reason = entry.get("reason") or entry.get("error") or entry.get("message")
            kind = f" ({entry['failure']})" if entry.get("failure") else ""
            reasons[str(entry["message_id"])] = f"{reason}{kind}"
    return reasons


def _handler_log_lines(settings: Settings) -> list[str]:
    return choose_target(settings).handler_log_lines(FAILED_RECORD_LINES)


def wait_for_dead_letters(settings: Settings, sent: dict[str, Any], timeout: float = 120.0) -> list:
    """Wait until the malformed events of ``sent`` (what :func:`send_test_events` returned)
    are in the dead-letter queue, then look at them (see :func:`dlq_messages`). Waits on the
    queue's depth, which costs no receive; the one look at the end does."""
    expected = int(sent.get("dead_letter_depth", 0)) + int(sent.get("malformed", 0))
    deadline = time.monotonic() + timeout
    delay = 0.01
    while queue_depths(settings)["dead_letter_queue"] < expected:
        if time.monotonic() > deadline:
            raise WorkshopError(
                f"{sent.get('malformed', 0)} malformed events did not reach the dead-letter queue within "
                f"{timeout:.0f} s.",
                hint="A failed record returns after the queue's visibility timeout (BWP_LOCAL_EVENT_RETRY_AFTER on "
                "local) and moves after BWP_MAX_RECEIVE_COUNT receives; is the event runner up "
                "(`bwp-workshop local status`)?",
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    return dlq_messages(settings, since=sent.get("sent_at"))


def messages(count: int) -> str:
    """``1 message``, ``2 messages``."""
    return f"{count} message{'' if count == 1 else 's'}"


def discard_dead_letters(message_ids: list[str], settings: Settings, *, timeout: float = 60.0) -> dict[str, Any]:
    """Delete these messages from the dead-letter queue, and no other: what can never succeed
    (a malformed event), which a redrive would only bring back. Returns ``{"removed", "not_found"}``.

    The other messages received while looking for them are made visible again at once."""
    sqs = aws.client("sqs", settings)
    url = stack_output(settings, names.EVENT_STACK, names.OUT_DLQ_URL)
    wanted = set(message_ids)
    removed: set[str] = set()
    seen: set[str] = set()
    others: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while wanted - removed and time.monotonic() < deadline:
            response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)
            received = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not received:
                break
            seen.update(m["MessageId"] for m in received)
            others += [m["ReceiptHandle"] for m in received if m["MessageId"] not in wanted]
            ours = [m for m in received if m["MessageId"] in wanted]
            if ours:
                entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(ours)]
                deleted = {
                    e["Id"] for e in sqs.delete_message_batch(QueueUrl=url, Entries=entries).get("Successful", [])
                }
                removed.update(m["MessageId"] for n, m in enumerate(ours) if str(n) in deleted)
    finally:
        for start in range(0, len(others), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for n, handle in enumerate(others[start : start + 10])
            ]
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
    return {"removed": len(removed), "not_found": sorted(wanted - removed)}


#: How a redrive moves messages: SQS's own message move task, or receive, send and delete.
REDRIVE_METHODS = ("auto", "move-task", "copy")


def redrive_dead_letters(settings: Settings, *, method: str = "auto", timeout: float = 300.0) -> dict[str, Any]:
    """Move every message of the dead-letter queue back to the event queue, where the event
    Lambda gets it again; returns ``{"method", "moved", "failed"}``.

    ``method="auto"`` uses SQS's message move task (``StartMessageMoveTask``) on aws and waits
    for it to finish; the local AWS (moto 5.2.5) has no move task, so there each message is
    received, sent to the event queue and only then deleted from the dead-letter queue
    (``"copy"``): a failure leaves it where it was, nothing is lost. A message moved twice
    (a delete that failed after its send) is harmless: the data table's conditional put stores
    an event once. A message that can never succeed comes back to the dead-letter queue; one
    that arrives there after the redrive began is left for the next redrive (so a running
    consumer and the redrive never pass a message back and forth)."""
    if method not in REDRIVE_METHODS:
        raise ConfigurationError(
            f"Unknown redrive method {method!r}.", hint=f"Use one of {', '.join(REDRIVE_METHODS)}."
        )
    if method == "auto":
        method = choose_target(settings).redrive_method
    sqs = operator_client("sqs", settings)  # the queue takes messages only from it and the rules
    dlq_url = stack_output(settings, names.EVENT_STACK, names.OUT_DLQ_URL)
    queue_url = stack_output(settings, names.EVENT_STACK, names.OUT_QUEUE_URL)
    if method == "move-task":
        return _redrive_with_move_task(sqs, dlq_url, queue_url, timeout)
    return _redrive_by_copy(sqs, dlq_url, queue_url, timeout)


def _redrive_with_move_task(sqs: Any, dlq_url: str, queue_url: str, timeout: float) -> dict[str, Any]:
    def arn(url: str) -> str:
        return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    source, destination = arn(dlq_url), arn(queue_url)
    task = sqs.start_message_move_task(SourceArn=source, DestinationArn=destination)["TaskHandle"]
    deadline = time.monotonic() + timeout
    delay = 1.0
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source, MaxResults=10).get("Results", [])
        current = next((t for t in tasks if t.get("TaskHandle") == task), tasks[0] if tasks else {})
        status = current.get("Status", "")
        if status in {"COMPLETED", "FAILED", "CANCELLED"}:
            moved = int(current.get("ApproximateNumberOfMessagesMoved", 0))
            if status != "COMPLETED":
                raise WorkshopError(
                    f"The redrive stopped ({status}) after {moved} messages: {current.get('FailureReason', '')}",
                    hint="What was not moved is still in the dead-letter queue; run the redrive again.",
                )
            return {"method": "move-task", "moved": moved, "failed": 0}
        if time.monotonic() > deadline:
            raise WorkshopError(
                f"The redrive is still running after {timeout:.0f} s "
                f"({current.get('ApproximateNumberOfMessagesMoved', 0)} moved so far).",
                hint="It goes on in SQS; look at the dead-letter queue in the console.",
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 5.0)


def _redrive_by_copy(sqs: Any, dlq_url: str, queue_url: str, timeout: float) -> dict[str, Any]:
    moved = failed = 0
    seen: set[str] = set()
    started_ms = int(time.time() * 1000)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Hidden while they are moved; a message whose send fails shows again after 60 s, and so
        # does one that arrived after the redrive began (it is not moved).
        response = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
            AttributeNames=["SentTimestamp"],
            MessageAttributeNames=["All"],
        )
        received = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        if not received:
            break
        seen.update(m["MessageId"] for m in received)
        messages = [m for m in received if int(m.get("Attributes", {}).get("SentTimestamp", 0)) < started_ms]
        if not messages:
            continue
        entries = []
        for n, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(n), "MessageBody": message.get("Body", "")}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        sent = {entry["Id"] for entry in answer.get("Successful", [])}
        failed += len(messages) - len(sent)
        done = [
            {"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]}
            for n, message in enumerate(messages)
            if str(n) in sent
        ]
        if done:
            deleted = sqs.delete_message_batch(QueueUrl=dlq_url, Entries=done)
            moved += len(deleted.get("Successful", []))
    return {"method": "copy", "moved": moved, "failed": failed}
