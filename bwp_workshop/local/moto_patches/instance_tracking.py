"""No instance records for DynamoDB items and SQS messages: moto's memory stops growing.

moto 5.2.5 records every model object it creates in a class-level list (for its dashboard)
and never clears it: each DynamoDB Scan deep-copied every item into it (about 26 MiB per scan
of 10,000 items), and each received SQS message was copied into it too; a 10,000-event run
grew moto from 209 to 2,337 MiB. Items and messages are no longer recorded. S3 keys still are:
S3's reset disposes of them through that list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core.common_models import BaseModel
from moto.dynamodb.models.dynamo_type import Item as DynamoItem
from moto.s3.models import FakeKey
from moto.sqs.models import Message

from .patch import Patch, refuse


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """``BaseModel.__new__`` without appending the instance to ``cls.instances_tracked``."""
    return object.__new__(cls)


def _made_by_base_model(model: type) -> Callable[[], None]:
    def check() -> None:
        if model.__new__ not in (BaseModel.__new__, _untracked_new):
            raise refuse(
                f"{model.__name__} objects are made in another way; the patch that stops recording them "
                "no longer applies.",
                hint="Re-check the instance-tracking patch.",
            )

    return check


PATCHES = tuple(
    Patch(
        model,
        "__new__",
        f"{what} are not recorded in moto's instance lists ({why})",
        replacement=_untracked_new,
        uses=((model, "instances_tracked"), (FakeKey, "instances_tracked")),
        check=_made_by_base_model(model),
    )
    for model, what, why in (
        (DynamoItem, "DynamoDB items", "every Scan kept a copy of every item"),
        (Message, "SQS messages", "every receive kept a copy of each message"),
    )
)
