"""The event handler's configuration, from the environment EventStack sets on the Lambda
(``bwp_workshop.environments.lambda_environment``; the local event runner sets the same)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from bwp_workshop.names import (
    ENV_ANALYTICS_BUCKET,
    ENV_API_VERSION,
    ENV_BUSINESS_PRODUCT_TABLE,
    ENV_CLIENT_SECRET_NAME,
    ENV_DATA_TABLE,
    ENV_DEAD_LETTER_QUEUE_URL,
    ENV_EVENT_SOURCE,
    ENV_GRAPHQL_URL,
    ENV_TEST_EVENT_SOURCE,
    ENV_TOKEN_TABLE,
    ENV_TOKEN_URL,
    ENV_WEBHOOK_EVENT_SOURCE,
)


@dataclass(frozen=True)
class Config:
    data_table: str
    token_table: str
    client_secret_name: str
    token_url: str
    graphql_url: str
    #: The one partner source accepted (``aws.partner/buywithprime/<name>``), exactly.
    event_source: str
    api_version: str = ""
    #: Empty: only events with ``contextKeys.installationId`` can be tied to a tenant.
    business_product_table: str = ""
    #: Empty: a permanent failure is left to the queue's redrive policy (after its receives).
    dead_letter_queue_url: str = ""
    #: The workshop's test source, accepted too (it reaches the queue only through the test bus).
    test_event_source: str = ""
    #: Empty: the batches are not written to the analytics bucket (only to the data table).
    analytics_bucket: str = ""
    #: The source of the events the app's webhook received (only through the webhook bus).
    webhook_event_source: str = ""

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources accepted, exactly: the subscribed partner source first."""
        others = (self.test_event_source, self.webhook_event_source)
        return (self.event_source, *(source for source in others if source))

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        required = {
            ENV_DATA_TABLE: "data_table",
            ENV_TOKEN_TABLE: "token_table",
            ENV_CLIENT_SECRET_NAME: "client_secret_name",
            ENV_TOKEN_URL: "token_url",
            ENV_GRAPHQL_URL: "graphql_url",
            ENV_EVENT_SOURCE: "event_source",
        }
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise RuntimeError(f"the event handler is not configured: set {', '.join(missing)}")
        values = {field: env[name] for name, field in required.items()}
        return cls(
            **values,
            api_version=env.get(ENV_API_VERSION, ""),
            business_product_table=env.get(ENV_BUSINESS_PRODUCT_TABLE, ""),
            dead_letter_queue_url=env.get(ENV_DEAD_LETTER_QUEUE_URL, ""),
            test_event_source=env.get(ENV_TEST_EVENT_SOURCE, ""),
            analytics_bucket=env.get(ENV_ANALYTICS_BUCKET, ""),
            webhook_event_source=env.get(ENV_WEBHOOK_EVENT_SOURCE, ""),
        )
