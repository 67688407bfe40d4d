"""The moto patches that make concurrent requests safe, each through forced interleavings or a
real server: SQS deletes, receives and dead-letter moves under the queue's lock, and DynamoDB
conditional writes one at a time."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

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


# --- DynamoDB conditional writes, one at a time: a forced race through a real server ----------


class _CountingLock:
    """A re-entrant lock that counts the threads that had to wait for it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.waiting = 0
        self.changed = threading.Condition()

    def __enter__(self) -> _CountingLock:
        if not self._lock.acquire(blocking=False):
            with self.changed:
                self.waiting += 1
                self.changed.notify_all()
            self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


@pytest.fixture
def in_process_moto() -> Any:
    """A real patched moto server (HTTP, werkzeug, one thread per request) in this process, so
    a test can reach its backends; stopped at the end."""
    from moto.server import ThreadedMotoServer

    moto_patches.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _dynamodb(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="eu-west-3",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _claim(kind: str, table: str, claimer: str) -> dict[str, Any]:
    """A request that takes the item ``lease`` for ``claimer`` if nobody holds it yet (a
    DeleteItem takes it by deleting it while it exists and nobody holds it)."""
    names = {"#owner": "owner"}
    if kind == "PutItem":
        return {
            "TableName": table,
            "Item": {"pk": {"S": "lease"}, "owner": {"S": claimer}},
            "ConditionExpression": "attribute_not_exists(#owner)",
            "ExpressionAttributeNames": names,
        }
    if kind == "DeleteItem":
        return {
            "TableName": table,
            "Key": {"pk": {"S": "lease"}},
            "ConditionExpression": "attribute_exists(#pk) AND attribute_not_exists(#owner)",
            "ExpressionAttributeNames": {**names, "#pk": "pk"},
        }
    update = {
        "TableName": table,
        "Key": {"pk": {"S": "lease"}},
        "UpdateExpression": "SET #owner = :me",
        "ConditionExpression": "attribute_not_exists(#owner)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":me": {"S": claimer}},
    }
    if kind == "UpdateItem":
        return update
    return {"TransactItems": [{"Update": update}]}


_CALLS = {"PutItem": "put_item", "UpdateItem": "update_item", "DeleteItem": "delete_item"}


class _Race:
    """A real server's table, its backend's write lock counting who waits for it, and the first
    claim held between its last condition check and its write until :meth:`release`."""

    def __init__(self, endpoint: str, monkeypatch: pytest.MonkeyPatch, table: str, checks: int) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb import comparisons
        from moto.dynamodb.models import dynamodb_backends

        from bwp_workshop.local.moto_patches import dynamodb as dynamodb_patches

        self.endpoint, self.table = endpoint, table
        self.client = _dynamodb(endpoint)
        self.client.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-3"]
        self.lock = _CountingLock()
        monkeypatch.setitem(backend.__dict__, dynamodb_patches.LOCK_ATTRIBUTE, self.lock)
        self.held, self._release = threading.Event(), threading.Event()
        passed: list[int] = []
        original_parse = comparisons.ConditionExpressionParser.parse

        def parse(parser: Any) -> Any:
            op = original_parse(parser)
            if "#owner" not in (parser.expression_attribute_names or {}):
                return op  # not a claim
            original_expr = op.expr

            def expr(item: Any) -> bool:
                result = bool(original_expr(item))
                if result and not self.held.is_set():  # the first claim: alone until it is held
                    passed.append(1)
                    if len(passed) == checks:  # its last check: hold it here, before its write
                        self.held.set()
                        assert self._release.wait(30), "the test never released the first claim"
                return result

            op.expr = expr
            return op

        monkeypatch.setattr(comparisons.ConditionExpressionParser, "parse", parse)
        self.done = 0

    def run(self, operation: Any) -> threading.Thread:
        def counted() -> None:
            try:
                operation()
            finally:
                with self.lock.changed:
                    self.done += 1
                    self.lock.changed.notify_all()

        thread = threading.Thread(target=counted)
        thread.start()
        return thread

    def release_once_settled(self, others: int) -> None:
        """Wait until each of ``others`` has finished or waits for the lock the first claim
        holds; then let the first claim write."""
        with self.lock.changed:
            assert self.lock.changed.wait_for(lambda: self.done + self.lock.waiting >= others, timeout=30)
        self._release.set()

    def owner(self) -> Any:
        item = self.client.get_item(TableName=self.table, Key={"pk": {"S": "lease"}}, ConsistentRead=True)
        return item.get("Item", {}).get("owner")


# The condition evaluations of one claim before it writes: moto checks a transaction's
# condition twice, in the transaction and again in the write it makes.
@pytest.mark.parametrize(
    ("kind", "checks"), [("UpdateItem", 1), ("PutItem", 1), ("DeleteItem", 1), ("TransactWriteItems", 2)]
)
def test_concurrent_conditional_writes_have_exactly_one_winner(
    in_process_moto: str, monkeypatch: pytest.MonkeyPatch, kind: str, checks: int
) -> None:
    """The first claim is held between its last condition check and its write while six other
    claims run, each until it has finished or waits for the table's writes. moto without the
    lock let one of them pass its condition and write too: two winners (the token table's
    lease won twice, an install state consumed twice). With the lock they wait, and each fails
    its condition after the write."""
    race = _Race(in_process_moto, monkeypatch, f"race-{kind.lower()}", checks)
    if kind == "DeleteItem":
        race.client.put_item(TableName=race.table, Item={"pk": {"S": "lease"}})
    won: list[str] = []
    lost: list[str] = []

    def claim(claimer: str) -> None:
        try:
            getattr(_dynamodb(in_process_moto), _CALLS.get(kind, "transact_write_items"))(
                **_claim(kind, race.table, claimer)
            )
            won.append(claimer)
        except ClientError as error:
            assert error.response["Error"]["Code"] in {
                "ConditionalCheckFailedException",
                "TransactionCanceledException",
            }
            lost.append(claimer)

    first = race.run(lambda: claim("first"))
    assert race.held.wait(30), "the first claim never passed its condition"
    others = [race.run(lambda n=n: claim(f"other-{n}")) for n in range(6)]
    race.release_once_settled(len(others))
    for thread in [first, *others]:
        thread.join(30)
        assert not thread.is_alive()
    assert len(won) + len(lost) == 7
    assert won == ["first"], f"{len(won)} claims won the lease: {won}"
    assert race.owner() == (None if kind == "DeleteItem" else {"S": "first"})
    race.client.delete_table(TableName=race.table)


def test_a_batch_write_waits_for_a_conditional_write_under_way(
    in_process_moto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A BatchWriteItem of the item a conditional put is writing (held between its check and
    its write): moto without the lock wrote the batch first and the put then overwrote it, as
    if the put's condition had held after the batch. With the lock the batch waits and lands
    last."""
    race = _Race(in_process_moto, monkeypatch, "race-batch", checks=1)
    first = race.run(lambda: _dynamodb(in_process_moto).put_item(**_claim("PutItem", race.table, "first")))
    assert race.held.wait(30), "the conditional put never passed its condition"
    batch = {"PutRequest": {"Item": {"pk": {"S": "lease"}, "owner": {"S": "batch"}}}}
    other = race.run(lambda: _dynamodb(in_process_moto).batch_write_item(RequestItems={race.table: [batch]}))
    race.release_once_settled(1)
    for thread in (first, other):
        thread.join(30)
        assert not thread.is_alive()
    assert race.owner() == {"S": "batch"}
    race.client.delete_table(TableName=race.table)
