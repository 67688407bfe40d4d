"""The moto patch that makes concurrent DynamoDB writes safe, through forced races on a real
server: conditional writes, and batch writes, one at a time under the table's write lock."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bwp_workshop.local import moto_patches

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
