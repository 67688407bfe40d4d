"""The business product table: which installation a Buy with Prime business product belongs to.

Events in the documented shapes name their tenant only through ``resources``
(``businessProduct/<id>/...``); ``detail.contextKeys.installationId`` is not in the public
2024-11-01 schema and a 2024-01-01 event has an empty ``detail``. So the subscribe step records
the ``targetId`` of the installation's event subscriptions (its business product,
events-queries-eventsubscription), the OAuth app removes it at uninstall, and the event handler
reads it (``GetItem`` only) to resolve events that carry no installation id.

Item: ``business_product_id`` (S, partition key), ``installation_id`` (S, also the key of the
keys-only index ``by-installation``), ``updated_at`` (N, epoch milliseconds). A reinstall of
the same business product overwrites its item; the uninstall of an older installation then
removes nothing (the delete is conditional on the installation).
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from ..errors import CallFailed
from ..names import BUSINESS_PRODUCT_BY_INSTALLATION, BUSINESS_PRODUCT_INSTALLATION, BUSINESS_PRODUCT_PK

#: DynamoDB error codes a retry later may get past.
TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


class BusinessProductMapError(CallFailed):
    """The business product table could not be read or written."""


def _error(action: str, exc: ClientError) -> BusinessProductMapError:
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    return BusinessProductMapError(
        f"the business product table refused to {action} ({code})", transient=code in TRANSIENT_CODES
    )


class BusinessProductMap:
    """Items of one business product table (a boto3 DynamoDB ``Table`` resource)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def put(self, business_product_id: str, installation_id: str) -> None:
        """Record that ``business_product_id`` belongs to ``installation_id`` (a reinstall wins)."""
        try:
            self.table.put_item(
                Item={
                    BUSINESS_PRODUCT_PK: business_product_id,
                    BUSINESS_PRODUCT_INSTALLATION: installation_id,
                    "updated_at": int(time.time() * 1000),
                }
            )
        except ClientError as exc:
            raise _error("record a business product", exc) from None

    def installation_of(self, business_product_id: str) -> str | None:
        """The installation the business product belongs to, or None when it has none."""
        try:
            item = self.table.get_item(Key={BUSINESS_PRODUCT_PK: business_product_id}, ConsistentRead=True).get("Item")
        except ClientError as exc:
            raise _error("read a business product", exc) from None
        value = (item or {}).get(BUSINESS_PRODUCT_INSTALLATION)
        return str(value) if value else None

    def of_installation(self, installation_id: str) -> list[str]:
        """The business products of ``installation_id`` (the keys-only index)."""
        kwargs: dict[str, Any] = {
            "IndexName": BUSINESS_PRODUCT_BY_INSTALLATION,
            "KeyConditionExpression": "#iid = :iid",
            "ExpressionAttributeNames": {"#iid": BUSINESS_PRODUCT_INSTALLATION},
            "ExpressionAttributeValues": {":iid": installation_id},
        }
        found: list[str] = []
        try:
            while True:
                page = self.table.query(**kwargs)
                found += [str(item[BUSINESS_PRODUCT_PK]) for item in page.get("Items", [])]
                if not page.get("LastEvaluatedKey"):
                    return found
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except ClientError as exc:
            raise _error("list the installation's business products", exc) from None

    def remove_installation(self, installation_id: str) -> int:
        """Delete the business products of ``installation_id``; returns how many there were."""
        removed = 0
        kwargs: dict[str, Any] = {
            "IndexName": BUSINESS_PRODUCT_BY_INSTALLATION,
            "KeyConditionExpression": "#iid = :iid",
            "ExpressionAttributeNames": {"#iid": BUSINESS_PRODUCT_INSTALLATION},
            "ExpressionAttributeValues": {":iid": installation_id},
        }
        try:
            while True:
                page = self.table.query(**kwargs)
                for item in page.get("Items", []):
                    try:
                        self.table.delete_item(
                            Key={BUSINESS_PRODUCT_PK: item[BUSINESS_PRODUCT_PK]},
                            ConditionExpression="#iid = :iid",
                            ExpressionAttributeNames={"#iid": BUSINESS_PRODUCT_INSTALLATION},
                            ExpressionAttributeValues={":iid": installation_id},
                        )
                        removed += 1
                    except ClientError as exc:  # reinstalled meanwhile: the item is no longer ours
                        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                            raise
                if not page.get("LastEvaluatedKey"):
                    return removed
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except ClientError as exc:
            raise _error("remove the installation's business products", exc) from None
