"""The long-lived state of one event Lambda instance: :class:`EventProcessor` holds the clients
(the data, token and business product tables, Secrets Manager, the GraphQL API, the dead-letter
queue, the analytics bucket), the token endpoint and the store cache, across invocations; each
invocation is one :class:`event_processing.Batch` it makes.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from analytics_writer import AnalyticsWriter
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from event_processing import Batch
from failures import TRANSIENT, RecordFailed
from handler_config import Config

from bwp_workshop.core.business_products import BusinessProductMap
from bwp_workshop.core.credentials import CredentialsUnavailable, client_credentials
from bwp_workshop.core.graphql import GraphQLClient
from bwp_workshop.core.token_table import StoredToken, TokenTable
from bwp_workshop.core.tokens import TokenEndpoint
from bwp_workshop.names import FAILURE_REASON_ATTRIBUTE

#: How long a store's site and widget ids are reused before they are asked again.
STORE_CACHE_SECONDS = 3600.0
#: API queries of one batch that run side by side.
API_CONCURRENCY = 4


class EventProcessor:
    """Long-lived state of one Lambda instance: clients, the token endpoint, the store cache.
    Thread-safe, so the local event runner may invoke the handler from several pollers."""

    def __init__(
        self,
        config: Config,
        *,
        dynamodb: Any = None,
        secrets: Any = None,
        http: Any = None,
        sqs: Any = None,
        s3: Any = None,
    ) -> None:
        self.config = config
        if dynamodb is None or secrets is None or (sqs is None and config.dead_letter_queue_url):
            import boto3  # here, not at import: the cold start pays it only when it is needed

            dynamodb = dynamodb or boto3.resource("dynamodb")
            secrets = secrets or boto3.client("secretsmanager")
            if config.dead_letter_queue_url:
                sqs = sqs or boto3.client("sqs")
        self.sqs = sqs
        #: Each batch's stored events as Parquet in the analytics bucket (its client made on first use).
        self.analytics = AnalyticsWriter(config.analytics_bucket, s3=s3)
        self.data_table = dynamodb.Table(config.data_table)
        self.business_products = (
            BusinessProductMap(dynamodb.Table(config.business_product_table)) if config.business_product_table else None
        )
        self.dynamodb = dynamodb
        self.tokens = TokenTable(dynamodb.Table(config.token_table))
        self.secrets = secrets
        self.graphql = GraphQLClient(config.graphql_url, api_version=config.api_version, http=http)
        self._http = http
        self._endpoint: TokenEndpoint | None = None
        self._stores: dict[str, tuple[float, dict[str, Any]]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        #: DynamoDB calls on the data table (the token table counts its own), for measurements.
        self.data_calls = 0

    def data_call(self) -> None:
        with self._lock:
            self.data_calls += 1

    # --- what is shared across batches ----------------------------------------------------
    def token_endpoint(self, *, reread: bool = False) -> TokenEndpoint:
        """The token endpoint with the client credentials Secrets Manager holds: read again every
        few minutes (``credentials.CACHE_SECONDS``), or at once with ``reread`` (the endpoint
        refused them: the secret was rotated); a new pair gets a new endpoint, no redeploy."""
        try:
            client_id, client_secret = client_credentials(self.secrets, self.config.client_secret_name, refresh=reread)
        except CredentialsUnavailable as exc:
            raise RecordFailed(str(exc), TRANSIENT) from None
        with self._lock:
            if self._endpoint is None or not self._endpoint.uses(client_id, client_secret):
                kwargs = {"http": self._http} if self._http is not None else {}
                self._endpoint = TokenEndpoint(self.config.token_url, client_id, client_secret, **kwargs)
            return self._endpoint

    def store(self, token: StoredToken) -> dict[str, Any]:
        """The installation's ``{siteId, widgetId}``, from the API once an hour at most."""
        cached = self._stores.get(token.installation_id)
        if cached and time.monotonic() - cached[0] < STORE_CACHE_SECONDS:
            return cached[1]
        store = self.graphql.store(access_token=token.access_token, installation_id=token.installation_id)
        with self._lock:
            self._stores[token.installation_id] = (time.monotonic(), store)
        return store

    def executor(self) -> ThreadPoolExecutor:
        """Threads for a batch's API queries (the calls wait on the network, not the CPU)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=API_CONCURRENCY, thread_name_prefix="bwp-api")
            return self._executor

    def new_batch(self) -> Batch:
        return Batch(self)

    def dead_letter(self, record: SQSRecord, reason: str) -> bool:
        """Send a record that can never succeed to the dead-letter queue now (its body as it
        came, the reason as a message attribute); False when no dead-letter queue is
        configured (the queue's redrive policy then moves it after its last receive)."""
        if not self.config.dead_letter_queue_url or self.sqs is None:
            return False
        try:
            self.sqs.send_message(
                QueueUrl=self.config.dead_letter_queue_url,
                MessageBody=record.body,
                MessageAttributes={FAILURE_REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason[:1024]}},
            )
        except Exception as exc:  # the record stays on the queue and is retried
            raise RecordFailed(f"could not dead-letter ({type(exc).__name__}): {reason}", TRANSIENT) from None
        return True
