"""SQS deletes, receives and dead-letter moves under the queue's lock: no message lost or revived.

moto 5.2.5's ``DeleteMessage`` rebuilds the queue's message list from the list it read when
it started, without the lock ``SendMessage`` takes: when two deletes and a send overlap, the
slower delete writes back the old list, so the new message is lost and the message the other
delete removed comes back (10,000 messages, 4 consumers: 180 lost, 569 delivered twice). The
move to a dead-letter queue in ``ReceiveMessage`` has the same shape. The patches delete,
receive and dead-letter under the queue's lock (a receive claims each message it returns under
it, so two receives never hand out the same message), find the message without rebuilding the
list, and copy a received message shallowly (moto deep-copied each one, body included).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto.sqs import models as sqs_models

from .patch import Patch, refuse


def _delete_message(self: Any, receipt_handle: str) -> None:
    """moto's ``Queue.delete_message`` under the queue's lock (the one ``add_message`` takes),
    removing the one message in place instead of writing back a list read before."""
    with self._messages_lock:
        if receipt_handle in self.deleted_messages:
            return  # already deleted: SQS accepts a second delete
        for index, message in enumerate(self._messages):  # noqa: B007 - used after the loop
            if message.had_receipt_handle(receipt_handle):
                break
        else:
            raise sqs_models.ReceiptHandleIsInvalid()
        del self._messages[index]
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)


def _receive_message(
    self: Any,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Any]:
    """moto's ``SQSBackend.receive_message`` with each pass over the queue under its lock: a
    message is claimed (marked received) or moved out for the dead-letter queue while no
    delete, send or other receive can interleave. The pass stops once it has ``count``
    messages (moto first listed every visible message), and the returned copies are shallow
    (moto deep-copied each message, body included)."""
    names = message_attribute_names or []
    queue = self.get_queue(queue_name)
    result: list[Any] = []
    polling_end = sqs_models.unix_time() + wait_seconds_timeout
    while True:
        if result or (wait_seconds_timeout and sqs_models.unix_time() > polling_end):
            break
        to_dead_letter: list[Any] = []
        with queue._messages_lock:
            now = sqs_models.unix_time_millis()
            pending_groups = set(queue.pending_message_groups) if queue.fifo_queue else set()
            redrive = queue.redrive_policy if queue.dead_letter_queue is not None else None
            for message in queue._messages:
                if not (now > message.visible_at and now >= message.delayed_until):
                    continue  # in flight or delayed
                if message in queue.pending_messages:
                    # Pending but visible again: its consumer timed out.
                    queue.pending_messages.remove(message)
                    if queue.fifo_queue:
                        pending_groups = set(queue.pending_message_groups)
                if message.group_id and queue.fifo_queue and message.group_id in pending_groups:
                    continue  # another consumer still holds this group
                if redrive and message.approximate_receive_count >= redrive["maxReceiveCount"]:
                    to_dead_letter.append(message)
                    continue
                queue.pending_messages.add(message)
                message.mark_received(visibility_timeout=visibility_timeout)
                if int(queue.message_retention_period) + message.sent_timestamp / 1000 <= now / 1000:
                    break  # past the retention period (read directly: moto's check computes every attribute)
                answer = copy.copy(message)  # the caller's view; attributes filtered on the copy
                sqs_models._filter_message_attributes(answer, names)
                result.append(answer)
                if len(result) >= count:
                    break
            for message in to_dead_letter:
                queue._messages.remove(message)
        # Outside this queue's lock: adding takes the dead-letter queue's lock.
        for message in to_dead_letter:
            queue.dead_letter_queue.add_message(message)
        if not result:
            if wait_seconds_timeout == 0:
                break
            queue.wait_for_messages(1)
    return result


def _queue_sets_what_the_patches_use() -> None:
    """What a queue sets on itself (checked on a probe queue, never registered with a backend)."""
    probe = sqs_models.Queue("bwp-probe", "us-east-1", "123456789012")
    for attribute in (
        "_messages",
        "_messages_lock",
        "deleted_messages",
        "redrive_policy",
        "dead_letter_queue",
        "message_retention_period",
    ):
        if not hasattr(probe, attribute):
            raise refuse(f"an SQS queue no longer has {attribute}.", hint="Re-check the SQS lock patches.")
    if not isinstance(probe._messages_lock, threading.Condition):
        raise refuse(
            "an SQS queue's messages are no longer guarded by a Condition.", hint="Re-check the SQS lock patches."
        )


_QUEUE, _MESSAGE = sqs_models.Queue, sqs_models.Message

PATCHES = (
    Patch(
        _QUEUE,
        "delete_message",
        "SQS deletes hold the queue's lock and remove the one message in place (overlapping deletes and "
        "sends lost messages and brought deleted ones back)",
        guard="tests/local/test_moto_patches_sqs_concurrency.py::test_overlapping_deletes_and_sends_lose_nothing_and_bring_nothing_back",
        replacement=_delete_message,
        uses=(
            (sqs_models, "ReceiptHandleIsInvalid"),
            (_QUEUE, "pending_messages"),
            (_MESSAGE, "had_receipt_handle"),
            (_MESSAGE, "all_receipt_handles"),
        ),
        check=_queue_sets_what_the_patches_use,
    ),
    Patch(
        sqs_models.SQSBackend,
        "receive_message",
        "SQS receives claim each message and move dead letters under the queue's lock, and copy the "
        "messages they return shallowly",
        guard="tests/local/test_moto_patches_sqs_concurrency.py::test_two_receives_never_hand_out_the_same_message",
        replacement=_receive_message,
        uses=(
            (sqs_models, "unix_time"),
            (sqs_models, "unix_time_millis"),
            (sqs_models, "_filter_message_attributes"),
            (_QUEUE, "pending_messages"),
            (_QUEUE, "pending_message_groups"),
            (_QUEUE, "wait_for_messages"),
            (_MESSAGE, "mark_received"),
        ),
    ),
)
