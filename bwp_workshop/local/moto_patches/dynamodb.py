"""DynamoDB writes that are atomic, as in DynamoDB, and tables that keep their time to live.

moto 5.2.5's DynamoDB has no lock: two concurrent conditional writes (PutItem, UpdateItem or
DeleteItem with a ConditionExpression, a TransactWriteItems) can both read the item, both pass
their condition and both write. DynamoDB makes each conditional write atomic. The token table's
refresh lease relies on that (two Lambda instances both won the lease and spent the refresh
token twice), and so do the handler's put-if-new and the app's install state (consumed by one
conditional delete). Each write action the workshop makes therefore runs under one lock per
backend (per account and region), taken by the request handler around the whole action, so the
old item a ``ReturnValues`` answer reports is the one the write replaced; PartiQL, which the
workshop does not use, is left as moto has it. One lock per backend rather than per table: a
failed transaction rolls back by replacing the table objects themselves. Reads take no lock.
moto runs its request threads under one GIL anyway: ``bench/dynamodb_puts.py`` put as fast with
the lock as without, within its noise. A table created by CloudFormation also ignored
``TimeToLiveSpecification``.
"""

from __future__ import annotations

import functools
import threading
from contextlib import AbstractContextManager
from typing import Any

from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from .patch import Patch

#: Where a backend keeps its write lock (made on first use).
LOCK_ATTRIBUTE = "_bwp_write_lock"

_RACE = (
    "tests/local/test_moto_patches_dynamodb_concurrency.py::test_concurrent_conditional_writes_have_exactly_one_winner"
)

#: The request handler's write actions the workshop makes (PartiQL it does not), by their API
#: names, with the test that races each against a conditional write.
WRITE_ACTIONS = {
    "put_item": ("PutItem", _RACE),
    "update_item": ("UpdateItem", _RACE),
    "delete_item": ("DeleteItem", _RACE),
    "transact_write_items": ("TransactWriteItems", _RACE),
    "batch_write_item": (
        "BatchWriteItem",
        "tests/local/test_moto_patches_dynamodb_concurrency.py::test_a_batch_write_waits_for_a_conditional_write_under_way",
    ),
}


def write_lock(backend: Any) -> AbstractContextManager[Any]:
    """The backend's write lock (re-entrant, so a write action that calls another cannot
    deadlock)."""
    lock = backend.__dict__.get(LOCK_ATTRIBUTE)
    if lock is None:  # dict.setdefault is atomic: two first writers get the same lock
        lock = backend.__dict__.setdefault(LOCK_ATTRIBUTE, threading.RLock())
    return lock


def _one_at_a_time(original: Any) -> Any:
    @functools.wraps(original)
    def write_action(self: Any) -> Any:
        with write_lock(self.dynamodb_backend):
            return original(self)

    return write_action


def _wrap_table_create(original: Any) -> Any:
    function = original.__func__

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kw: Any
    ) -> Any:
        table = function(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
        spec = cloudformation_json.get("Properties", {}).get("TimeToLiveSpecification")
        if spec:
            dynamodb_backends[account_id][region_name].update_time_to_live(
                table.name,
                {"Enabled": str(spec.get("Enabled")).lower() == "true", "AttributeName": spec["AttributeName"]},
            )
        return table

    return classmethod(create_from_cloudformation_json)


PATCHES = (
    *(
        Patch(
            DynamoHandler,
            method,
            f"DynamoDB {action} runs one write action at a time per account and region, so a conditional "
            "write is atomic (two could both pass their condition)",
            guard=guard,
            wrapper=_one_at_a_time,
            uses=((DynamoHandler, "dynamodb_backend"),),
        )
        for method, (action, guard) in WRITE_ACTIONS.items()
    ),
    Patch(
        Table,
        "create_from_cloudformation_json",
        "tables created by CloudFormation get their time to live",
        guard="tests/local/test_moto_fixes_for_stacks.py::test_a_table_created_by_cloudformation_gets_its_time_to_live",
        wrapper=_wrap_table_create,
        uses=((DynamoDBBackend, "update_time_to_live"),),
    ),
)
