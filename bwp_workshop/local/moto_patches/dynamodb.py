"""DynamoDB tables created by CloudFormation keep their time to live.

moto 5.2.5's CloudFormation creates a table without its ``TimeToLiveSpecification``.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table

from .patch import Patch


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
    Patch(
        Table,
        "create_from_cloudformation_json",
        "tables created by CloudFormation get their time to live",
        wrapper=_wrap_table_create,
        uses=((DynamoDBBackend, "update_time_to_live"),),
    ),
)
