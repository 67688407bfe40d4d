"""The workshop's DynamoDB tables made with boto3 on the local AWS, keyed as the stacks make
them (InfraStack: tokens, business products; EventStack: data). Each returns the table's
resource."""

from __future__ import annotations

from typing import Any

from bwp_workshop import aws, names
from bwp_workshop.settings import Settings


def create_token_table(settings: Settings, name: str = "tokens") -> Any:
    """A token table as InfraStack makes it (keys, time to live)."""
    dynamodb = aws.client("dynamodb", settings)
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": names.TOKEN_PK, "KeyType": "HASH"},
            {"AttributeName": names.TOKEN_SK, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": names.TOKEN_PK, "AttributeType": "S"},
            {"AttributeName": names.TOKEN_SK, "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": names.TOKEN_TTL_ATTRIBUTE}
    )
    return aws.resource("dynamodb", settings).Table(name)


def create_business_product_table(settings: Settings, name: str = "business-products") -> Any:
    """A business product table as InfraStack makes it (key, keys-only index by installation)."""
    aws.client("dynamodb", settings).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": names.BUSINESS_PRODUCT_PK, "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": names.BUSINESS_PRODUCT_PK, "AttributeType": "S"},
            {"AttributeName": names.BUSINESS_PRODUCT_INSTALLATION, "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": names.BUSINESS_PRODUCT_BY_INSTALLATION,
                "KeySchema": [{"AttributeName": names.BUSINESS_PRODUCT_INSTALLATION, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return aws.resource("dynamodb", settings).Table(name)


def create_data_table(settings: Settings, name: str = "data") -> Any:
    """A data table as EventStack makes it (one record per event, keyed by its installation
    and its event id)."""
    aws.client("dynamodb", settings).create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": names.DATA_PK, "KeyType": "HASH"},
            {"AttributeName": names.DATA_SK, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": names.DATA_PK, "AttributeType": "S"},
            {"AttributeName": names.DATA_SK, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return aws.resource("dynamodb", settings).Table(name)
