"""SQS without the per-message scans that made a deep queue slow (quadratic) in moto 5.2.5.

``ReceiveMessage`` checked each message it returns against the retention period by computing
every queue attribute, three of which scan the whole queue: a receive from a queue n deep cost
n scans (a queue 1,000 events deep drained at about ten messages a second). ``SendMessage`` to
a standard queue computed every attribute to read one only FIFO queues have, so EventBridge's
delivery into the event queue slowed as the queue filled. Counting visible, in-flight and
delayed messages (``GetQueueAttributes``, and the wake-up check of every long poll after each
send) read the clock twice per message through ``datetime``; the patches read it once per count.
"""

from __future__ import annotations

from typing import Any

from moto.sqs import models as sqs_models

from .patch import Patch


def _message_within_retention(self: Any, queue_name: str, message: Any) -> bool:
    """As moto's check, with the retention period read directly instead of through every
    queue attribute (some of which scan the queue)."""
    queue = self.get_queue(queue_name)
    retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
    return bool(retain_until > sqs_models.unix_time())


def _wrap_send_message(original: Any) -> Any:
    """moto's ``send_message`` for standard queues without the attribute lookup that only
    matters to FIFO queues (``ContentBasedDeduplication``); FIFO queues go to moto's own."""

    def send_message(
        self: Any,
        queue_name: str,
        message_body: str,
        message_attributes: dict[str, Any] | None = None,
        delay_seconds: int | None = None,
        deduplication_id: str | None = None,
        group_id: str | None = None,
        system_attributes: dict[str, Any] | None = None,
        validate_group_id: bool = True,
    ) -> Any:
        queue = self.get_queue(queue_name)
        if queue.fifo_queue:
            return original(
                self,
                queue_name,
                message_body,
                message_attributes,
                delay_seconds,
                deduplication_id,
                group_id,
                system_attributes,
                validate_group_id,
            )
        self._validate_message(
            queue,
            message_body=message_body,
            delay_seconds=int(delay_seconds or 0),
            deduplication_id=deduplication_id,
            group_id=group_id,
            validate_group_id=validate_group_id,
        )
        delay = int(delay_seconds) if delay_seconds is not None else queue.delay_seconds
        message = sqs_models.Message(str(sqs_models.random.uuid4()), message_body, system_attributes)
        if deduplication_id is not None:
            message.deduplication_id = deduplication_id
            message.sequence_number = "".join(sqs_models.random.choice("0123456789") for _ in range(20))
        if group_id is not None:
            message.group_id = group_id
        if message_attributes:
            message.message_attributes = message_attributes
        if delay > sqs_models.MAXIMUM_MESSAGE_DELAY:
            raise sqs_models.InvalidParameterValue(
                f"Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
            )
        message.mark_sent(delay_seconds=delay)
        queue.add_message(message)
        return message

    return send_message


def _visible_messages(self: Any) -> list[Any]:
    now = sqs_models.unix_time_millis()
    return [m for m in self._messages if now > m.visible_at and now >= m.delayed_until]


def _not_visible_count(self: Any) -> int:
    now = sqs_models.unix_time_millis()
    return sum(1 for m in self._messages if not now > m.visible_at)


def _delayed_count(self: Any) -> int:
    now = sqs_models.unix_time_millis()
    return sum(1 for m in self._messages if now < m.delayed_until)


def _has_visible(queue: Any) -> bool:
    now = sqs_models.unix_time_millis()
    return any(now > m.visible_at and now >= m.delayed_until for m in queue._messages)


def _wait_for_messages(self: Any, timeout: int) -> None:
    with self._messages_lock:
        self._messages_lock.wait_for(lambda: _has_visible(self), timeout=timeout)


_QUEUE = sqs_models.Queue

PATCHES = (
    Patch(
        sqs_models.SQSBackend,
        "is_message_valid_based_on_retention_period",
        "receiving from a queue reads its retention period alone (not every attribute, per message)",
        replacement=_message_within_retention,
        uses=((sqs_models, "unix_time"),),
    ),
    Patch(
        sqs_models.SQSBackend,
        "send_message",
        "sending to a standard queue computes no queue attribute (each send scanned the queue)",
        wrapper=_wrap_send_message,
        uses=(
            (sqs_models.SQSBackend, "_validate_message"),
            (sqs_models, "Message"),
            (sqs_models, "random"),
            (sqs_models, "MAXIMUM_MESSAGE_DELAY"),
            (sqs_models, "InvalidParameterValue"),
        ),
    ),
    Patch(
        _QUEUE,
        "messages",
        "a queue's visible messages are listed with one clock read",
        replacement=property(_visible_messages),
        uses=((sqs_models, "unix_time_millis"),),
    ),
    Patch(
        _QUEUE,
        "approximate_number_of_messages_not_visible",
        "a queue's in-flight count reads the clock once, not twice per message",
        replacement=property(_not_visible_count),
    ),
    Patch(
        _QUEUE,
        "approximate_number_of_messages_delayed",
        "a queue's delayed count reads the clock once, not twice per message",
        replacement=property(_delayed_count),
    ),
    Patch(
        _QUEUE,
        "wait_for_messages",
        "a long poll's wake-up check reads the clock once, not twice per message",
        replacement=_wait_for_messages,
    ),
)
