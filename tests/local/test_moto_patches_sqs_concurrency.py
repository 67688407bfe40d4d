"""The moto patches that make concurrent SQS requests safe, each through forced interleavings:
deletes, receives and dead-letter moves under the queue's lock."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from bwp_workshop.local import moto_patches

# --- SQS under the queue's lock: forced interleavings ------------------------------------------


class _WatchedLock:
    """A re-entrant lock that tells, per thread name, when a thread has to wait for it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.settled: dict[str, threading.Event] = {}

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(blocking=False):
            return True
        if not blocking:
            return False
        event = self.settled.get(threading.current_thread().name)
        if event is not None:
            event.set()  # this thread now waits for the lock
        return self._lock.acquire(True, timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _is_owned(self) -> bool:
        return self._lock._is_owned()  # type: ignore[attr-defined]

    def _release_save(self) -> Any:
        return self._lock._release_save()  # type: ignore[attr-defined]

    def _acquire_restore(self, state: Any) -> None:
        self._lock._acquire_restore(state)  # type: ignore[attr-defined]


def _interleave(monkeypatch: pytest.MonkeyPatch, queue: Any, target: Any, delete: Any, rounds: list[list[Any]]) -> None:
    """Run ``delete`` (of ``target``, the last message of ``queue``) in a thread that pauses
    each time it recognises ``target``; at each pause run the next round's operations, each
    in its own thread, until each has finished or waits for the queue's lock; then let the
    delete go on. Rounds left when the delete ends run after it. Every thread is joined."""
    from moto.sqs import models as sqs_models

    lock = _WatchedLock()
    queue._messages_lock = threading.Condition(lock)  # type: ignore[arg-type]
    paused, resume = threading.Event(), threading.Event()
    original = sqs_models.Message.had_receipt_handle

    def had_receipt_handle(self: Any, receipt_handle: str) -> bool:
        found = original(self, receipt_handle)
        if found and self is target and threading.current_thread().name == "deleter":
            paused.set()
            assert resume.wait(10), "the test never resumed the delete"
            resume.clear()
        return found

    monkeypatch.setattr(sqs_models.Message, "had_receipt_handle", had_receipt_handle)
    errors: list[BaseException] = []

    def start(name: str, operation: Any) -> threading.Thread:
        lock.settled[name] = settled = threading.Event()

        def run() -> None:
            try:
                operation()
            except BaseException as exc:  # reported by the test below
                errors.append(exc)
            finally:
                settled.set()

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    deleter = start("deleter", delete)
    others: list[threading.Thread] = []
    pending = list(rounds)
    while deleter.is_alive():
        if not paused.wait(0.05):
            continue
        paused.clear()
        for number, operation in enumerate(pending.pop(0) if pending else []):
            others.append(start(f"other-{len(others)}-{number}", operation))
            assert lock.settled[others[-1].name].wait(10)  # finished, or waiting for the lock
        resume.set()
    for operations in pending:
        for number, operation in enumerate(operations):
            others.append(start(f"late-{len(others)}-{number}", operation))
    for thread in [deleter, *others]:
        thread.join(10)
        assert not thread.is_alive()
    assert not errors, errors


def test_overlapping_deletes_and_sends_lose_nothing_and_bring_nothing_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The forced interleaving that lost messages: while one delete is under way, another
    delete and a send land. moto's delete wrote back the list it had read, so the sent
    message vanished and the other deleted message came back."""
    moto_patches.apply()
    from moto.sqs import models as sqs_models

    backend = sqs_models.sqs_backends["123456789012"]["us-east-1"]
    queue = backend.create_queue("interleave-delete")
    try:
        first, second, target = (backend.send_message("interleave-delete", body) for body in ("a", "b", "target"))
        for message in (first, second, target):
            message.mark_received(visibility_timeout=30)
        _interleave(
            monkeypatch,
            queue,
            target,
            lambda: backend.delete_message("interleave-delete", target.receipt_handle),
            [
                [
                    lambda: backend.delete_message("interleave-delete", first.receipt_handle),
                    lambda: backend.send_message("interleave-delete", "new-1"),
                ],
                [
                    lambda: backend.delete_message("interleave-delete", second.receipt_handle),
                    lambda: backend.send_message("interleave-delete", "new-2"),
                ],
            ],
        )
        assert sorted(m.body for m in queue._messages) == ["new-1", "new-2"]
    finally:
        backend.delete_queue("interleave-delete")


def test_a_dead_letter_move_during_a_delete_is_not_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A receive that moves a message to the dead-letter queue while a delete is under way:
    moto's delete wrote the moved message back, so it sat in both queues."""
    moto_patches.apply()
    from moto.sqs import models as sqs_models

    backend = sqs_models.sqs_backends["123456789012"]["us-east-1"]
    dlq = backend.create_queue("interleave-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq.queue_arn, "maxReceiveCount": 1})
    queue = backend.create_queue("interleave-source", RedrivePolicy=redrive)
    try:
        first, second, target = (backend.send_message("interleave-source", body) for body in ("x1", "x2", "target"))
        target.mark_received(visibility_timeout=30)
        for message in (first, second):  # in flight until their round makes them due for the DLQ
            message.change_visibility(30)

        def dead_letter(message: Any) -> Any:
            def operation() -> None:
                message.approximate_receive_count = 1
                message.visible_at = 0
                backend.receive_message("interleave-source", 10, 0, 30)

            return operation

        _interleave(
            monkeypatch,
            queue,
            target,
            lambda: backend.delete_message("interleave-source", target.receipt_handle),
            [[dead_letter(first)], [dead_letter(second)]],
        )
        assert queue._messages == []
        assert sorted(m.body for m in dlq._messages) == ["x1", "x2"]
    finally:
        backend.delete_queue("interleave-source")
        backend.delete_queue("interleave-dlq")


def test_two_receives_never_hand_out_the_same_message() -> None:
    moto_patches.apply()
    from moto.sqs import models as sqs_models

    backend = sqs_models.sqs_backends["123456789012"]["us-east-1"]
    backend.create_queue("receive-once")
    try:
        for n in range(200):
            backend.send_message("receive-once", f"m{n}")
        got: list[str] = []

        def consume() -> None:
            while batch := backend.receive_message("receive-once", 10, 0, 30):
                got.extend(m.body for m in batch)

        threads = [threading.Thread(target=consume) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(got) == sorted(f"m{n}" for n in range(200))
    finally:
        backend.delete_queue("receive-once")
