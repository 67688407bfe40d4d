"""Names shared by the stacks, the deployables, the local runtime and the notebooks.

One place for every name that crosses a boundary: stack names, the CloudFormation output
keys the helpers read back, the Secrets Manager secret the onboarding step writes, and the
environment variables through which the stacks configure the OAuth container and the Lambda.
Importing this module is free (no third-party imports).
"""

from __future__ import annotations

# --- stacks, in deploy order -----------------------------------------------------------
INFRA_STACK = "InfraStack"
ECS_STACK = "EcsStack"
EVENT_STACK = "EventStack"
STACKS = (INFRA_STACK, ECS_STACK, EVENT_STACK)

# --- resources named outside CloudFormation or fixed by the workshop ---------------------
#: ECR repository of the OAuth handler image.
REPOSITORY_NAME = "bwp-saas-integration"
#: CodeBuild project that builds the OAuth handler image in the account where no Docker engine
#: runs (InfraStack); its log group is CodeBuild's default ``/aws/codebuild/<project>``.
IMAGE_BUILD_PROJECT = "bwp-oauth-app-image"
IMAGE_BUILD_LOG_GROUP = f"/aws/codebuild/{IMAGE_BUILD_PROJECT}"
#: Environment variables of that project: the repository, the tag to push, and the source tag
#: of the sources InfraStack uploaded (the build step compares it with the current sources).
BUILD_ENV_REPOSITORY_URI = "REPOSITORY_URI"
BUILD_ENV_IMAGE_TAG = "IMAGE_TAG"
BUILD_ENV_SOURCE_TAG = "SOURCE_TAG"
#: Secrets Manager secret with the app's client credentials, a JSON object
#: ``{"client_id": ..., "client_secret": ...}``. Written by the onboarding step through the
#: API (so the value never enters a template) and referenced by name from the stacks. The
#: name must not end in a hyphen and six characters: Secrets Manager would read those as the
#: random suffix of a full ARN when the stacks refer to the secret by partial ARN.
CLIENT_SECRET_NAME = "bwp-saas-integration/oauth-credentials"
CLIENT_SECRET_ID_KEY = "client_id"
CLIENT_SECRET_SECRET_KEY = "client_secret"
#: Prefix of the partner event source and bus names that Buy with Prime creates, without the
#: ``/`` that separates it from the name: build a full name with :func:`partner_source_name`.
PARTNER_SOURCE_PREFIX = "aws.partner/buywithprime"


def partner_source_name(name: str) -> str:
    """The partner event source (and bus) name for ``name``: ``aws.partner/buywithprime/<name>``."""
    return f"{PARTNER_SOURCE_PREFIX}/{name}"


#: The source of the workshop's own test events (on EventStack's test bus; never a partner's).
TEST_EVENT_SOURCE = "bwp-workshop.test-events"
#: The source of the Buy with Prime events the app's webhook received and put on EventStack's
#: webhook bus (``aws.`` sources are AWS's own: PutEvents refuses the partner source).
WEBHOOK_EVENT_SOURCE = "bwp-workshop.webhook"
#: EventStack's webhook bus (a fixed name, so EcsStack grants the app PutEvents on it).
WEBHOOK_EVENT_BUS = "bwp-workshop-webhook-events"
#: The app's webhook (the destination's url) and the token endpoint of its OAuth auth profile.
WEBHOOK_PATH = "/webhooks/events"
WEBHOOK_TOKEN_PATH = "/webhooks/token"
#: Event destinations notebook 05 offers (BWP_EVENT_DESTINATION): EventBridge is the default.
EVENT_DESTINATIONS = ("eventbridge", "webhook")


def bus_name(event_bus_arn: str) -> str:
    """The name in an event bus ARN; a partner bus is named after its one event source."""
    return event_bus_arn.split(":event-bus/", 1)[-1]


# --- CloudFormation output keys ----------------------------------------------------------
OUT_ALB_DNS_NAME = "AlbDnsName"
OUT_APP_BASE_URL = "AppBaseUrl"
OUT_TOKEN_TABLE = "TokenTableName"
OUT_BUSINESS_PRODUCT_TABLE = "BusinessProductTableName"
OUT_REPOSITORY_URI = "RepositoryUri"
OUT_IMAGE_BUILD_PROJECT = "ImageBuildProjectName"
OUT_CLUSTER_NAME = "ClusterName"
OUT_SERVICE_NAME = "ServiceName"
OUT_DATA_TABLE = "DataTableName"
OUT_QUEUE_URL = "QueueUrl"
OUT_QUEUE_ARN = "QueueArn"
OUT_DLQ_URL = "DeadLetterQueueUrl"
OUT_FUNCTION_NAME = "FunctionName"
OUT_RULE_NAME = "RuleName"
OUT_EVENT_BUS_ARN = "EventBusArn"
OUT_HANDLER_LOG_GROUP = "HandlerLogGroupName"
#: The role that may send test events (through the test bus) and move dead letters back to the
#: event queue: the only sender besides the rules (the notebooks assume it on aws).
OUT_OPERATOR_ROLE_ARN = "OperatorRoleArn"
#: The event bus that carries the workshop's test events to the event queue (its test rule).
OUT_TEST_EVENT_BUS = "TestEventBusName"
#: The alarms' SNS topic (InfraStack), EventStack's dead-letter queue alarm and its composite
#: "pipeline unhealthy" alarm, and the operations dashboard.
OUT_ALARM_TOPIC_ARN = "AlarmTopicArn"
OUT_DLQ_ALARM = "DeadLetterQueueAlarmName"
OUT_PIPELINE_ALARM = "PipelineAlarmName"
OUT_DASHBOARD = "DashboardName"
#: The tag the CDK app puts on everything the stacks make (99 lists what is left by it).
PROJECT_TAG = "project"
PROJECT_TAG_VALUE = "bwp-workshop"
OUT_WEBHOOK_EVENT_BUS = "WebhookEventBusName"

# --- token table schema --------------------------------------------------------------------
#: Partition key (S): the installation id. Sort key (N): epoch milliseconds of the write.
TOKEN_PK = "installation_id"
TOKEN_SK = "updated_at"
#: Numeric attribute with DynamoDB time-to-live enabled on the token table (epoch seconds),
#: for short-lived items such as a spent OAuth state.
TOKEN_TTL_ATTRIBUTE = "ttl"
#: Partition-key prefix of the OAuth app's spent-state items in the token table (a state used
#: for an install, written at /install and kept until it expires; /launch writes nothing). The
#: app refuses installation ids with this prefix, so the two never collide; readers of token
#: items skip keys that start with it.
OAUTH_STATE_PREFIX = "oauth-state#"

#: Seconds a superseded token item (its refresh token spent) is kept before DynamoDB's
#: time to live removes it.
SUPERSEDED_TOKEN_TTL_SECONDS = 3600
#: The DynamoDB actions the OAuth app's task role may use on the token table: a state spent and
#: a token pair stored at install (put), an installation's items found and deleted at
#: uninstall (query, batch write).
TASK_TOKEN_ACTIONS = ("dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchWriteItem")
#: The event handler's: the newest token read (query), a refresh claimed and the spent item
#: marked (update), the new pair written (put); and one conditional put per event.
HANDLER_TOKEN_ACTIONS = ("dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem")
HANDLER_DATA_ACTIONS = ("dynamodb:PutItem",)
#: Name prefixes (``<prefix>-<region>``) of the OAuth app's task role and the event handler's
#: role when the token table has a customer-managed key, whose policy names them by ARN
#: (stacks/token_key.py).
TASK_ROLE_NAME_PREFIX = "bwp-oauth-task"
HANDLER_ROLE_NAME_PREFIX = "bwp-event-handler"
#: The OAuth app's on the business product table: a new installation's business products
#: recorded at install (put), removed at uninstall (delete; found through the index, query).
TASK_BUSINESS_PRODUCT_ACTIONS = ("dynamodb:PutItem", "dynamodb:DeleteItem")

# --- the app's event subscriptions ----------------------------------------------------------
#: The SSM parameter (a String, JSON) with the destinations and event types every installation
#: is subscribed to (``core.event_subscriptions.Registration``): notebook 05 writes it once its
#: destination exists; the OAuth app reads it (GetParameter only) to subscribe each merchant
#: it installs; notebook 99 deletes it.
EVENT_DESTINATION_PARAMETER = "/bwp-workshop/event-destinations"

# --- business product table schema (InfraStack) -------------------------------------------
#: Which installation a business product belongs to: written when the installation subscribes to
#: events (a subscription's ``targetId``), removed by the OAuth app at uninstall, read by the event handler for
#: events that carry no ``detail.contextKeys.installationId`` (the ``businessProduct/<id>`` of
#: their ``resources`` names the tenant). Partition key (S): the business product id.
BUSINESS_PRODUCT_PK = "business_product_id"
#: Attribute (S) with the installation id, also the partition key of the index below.
BUSINESS_PRODUCT_INSTALLATION = "installation_id"
#: Global secondary index (keys only) that finds an installation's business products at uninstall.
BUSINESS_PRODUCT_BY_INSTALLATION = "by-installation"

# --- data table schema ---------------------------------------------------------------------
#: Partition key (S): the installation the event belongs to; sort key (S): the event's id
#: (``detail.eventId``, else the envelope ``id``). Keyed by both, so one tenant's event id can
#: never stand in for (and suppress) another tenant's event.
DATA_PK = "installation_id"
DATA_SK = "event_id"

# --- environment of the deployables (set by the stacks; set by the local runtime on local) --
ENV_TOKEN_TABLE = "TOKEN_TABLE_NAME"
ENV_DATA_TABLE = "DATA_TABLE_NAME"
ENV_BUSINESS_PRODUCT_TABLE = "BUSINESS_PRODUCT_TABLE_NAME"
#: The event handler sends a record that can never succeed (not a Buy with Prime event, no
#: tenant) to this queue itself, on its first receive, instead of letting it be retried.
ENV_DEAD_LETTER_QUEUE_URL = "DEAD_LETTER_QUEUE_URL"
#: The one partner event source the event handler accepts (``aws.partner/buywithprime/<name>``,
#: the source of the partner bus EventStack reads); any other source is dead-lettered.
ENV_EVENT_SOURCE = "BWP_EVENT_SOURCE"
#: The source of the workshop's test events, which the handler accepts too: they reach the
#: queue only through the test bus, which only the operator role may put events on.
ENV_TEST_EVENT_SOURCE = "BWP_TEST_EVENT_SOURCE"
ENV_WEBHOOK_EVENT_SOURCE = "BWP_WEBHOOK_EVENT_SOURCE"
#: The bus the app's webhook puts events on (empty: the app has no webhook).
ENV_WEBHOOK_EVENT_BUS = "BWP_WEBHOOK_EVENT_BUS"
ENV_APP_BASE_URL = "APP_BASE_URL"
ENV_CLIENT_SECRET_NAME = "CLIENT_SECRET_NAME"
#: The OAuth container gets the client credentials injected from the secret under these names.
ENV_CLIENT_ID = "BWP_CLIENT_ID"
ENV_CLIENT_SECRET = "BWP_CLIENT_SECRET"
ENV_AUTHORIZE_URL = "BWP_AUTHORIZE_URL"
ENV_TOKEN_URL = "BWP_TOKEN_URL"
ENV_GRAPHQL_URL = "BWP_GRAPHQL_URL"
ENV_API_VERSION = "BWP_API_VERSION"
ENV_PUBLIC_KEY = "BWP_PUBLIC_KEY"
#: The OAuth app reads :data:`EVENT_DESTINATION_PARAMETER` under this name.
ENV_EVENT_DESTINATION_PARAMETER = "EVENT_DESTINATION_PARAMETER"
ENV_POWERTOOLS_SERVICE = "POWERTOOLS_SERVICE_NAME"
ENV_LOG_LEVEL = "LOG_LEVEL"

# --- the deployables ------------------------------------------------------------------------
#: Message attribute with the reason, on what the event handler sends to the dead-letter queue
#: itself (a record that can never succeed).
FAILURE_REASON_ATTRIBUTE = "bwp-failure-reason"
#: Service name of the event Lambda in its structured logs (POWERTOOLS_SERVICE_NAME).
EVENT_HANDLER_SERVICE = "bwp-event-handler"
#: CloudWatch namespace of the event Lambda's metrics (powertools Metrics, embedded metric format).
METRICS_NAMESPACE = "BwpWorkshop/EventPipeline"
#: The dimension the per-event-type metrics carry (the event's type; ``unparsed`` when none).
METRIC_EVENT_TYPE = "event_type"
#: The handler's outcome metrics, one count per record: stored, a duplicate skipped, stored
#: without the API's facts, sent to the dead-letter queue by the handler, failed (redelivered).
METRIC_STORED = "EventsStored"
METRIC_DUPLICATES = "DuplicatesSkipped"
METRIC_UNENRICHED = "EventsUnenriched"
METRIC_DEAD_LETTERED = "EventsDeadLettered"
METRIC_FAILED = "RecordsFailed"
OUTCOME_METRICS = (METRIC_STORED, METRIC_DUPLICATES, METRIC_UNENRICHED, METRIC_DEAD_LETTERED, METRIC_FAILED)
#: The OAuth app's port in its container, and the path its health checks call.
APP_PORT = 8080
APP_HEALTH_PATH = "/health"
#: Header CloudFront adds to what it forwards to the load balancer on the aws target (without a
#: certificate): the load balancer forwards only requests that carry it (stacks/tls_front.py).
ORIGIN_VERIFY_HEADER = "X-Bwp-Origin-Verify"
#: Name of the load balancer. Lowercase on purpose: its DNS name is ``<name>-<digits>.<region>
#: .elb.amazonaws.com``, so the install URL BwP hashes has no capital letters.
LOAD_BALANCER_NAME = "bwp-oauth"
#: Where the OAuth app takes the externally visible URL of a request from (the URL Buy with
#: Prime signs): ``base_url`` (APP_BASE_URL + path + query, the default) or ``forwarded``
#: (scheme from X-Forwarded-Proto of a trusted proxy, host from the Host header).
ENV_REQUEST_URL_FROM = "APP_REQUEST_URL_FROM"
#: Seconds a pending install (state + PKCE verifier) stays valid.
ENV_STATE_TTL = "APP_STATE_TTL_SECONDS"

# --- Buy with Prime event types ------------------------------------------------------------
#: Every order event type Buy with Prime publishes (the sandbox's order lifecycles walk them all).
ORDER_EVENT_TYPES = (
    "ORDER_CONFIRMED",
    "PACKAGE_DELIVERY_IN_TRANSIT",
    "PACKAGE_DELIVERED",
    "PACKAGE_DELIVERY_CANCELLED",
    "PACKAGE_TRACKER_MILESTONE_CHANGED",
    "REFUND_REQUESTED",
    "REFUND_COMPLETED",
    "RETURN_STARTED",
    "RETURN_PACKAGE_IN_TRANSIT",
    "RETURN_PACKAGE_DELIVERED",
    "RETURN_PACKAGE_DELIVERY_FAILED",
    "RETURN_ITEM_GRADED",
    "RETURN_COMPLETED",
)
CATALOG_EVENT_TYPES = ("BUYABILITY_CHANGED", "INVENTORY_CHANGED")
PRIVACY_EVENT_TYPES = (
    "PERSONAL_DATA_DELETION_TASK_COMPLETED",
    "PERSONAL_DATA_DELETION_TASK_FAILED",
    "PERSONAL_DATA_RETRIEVAL_TASK_COMPLETED",
    "PERSONAL_DATA_RETRIEVAL_TASK_FAILED",
)
#: Every event type Buy with Prime publishes today.
EVENT_TYPES = ORDER_EVENT_TYPES + CATALOG_EVENT_TYPES + PRIVACY_EVENT_TYPES
#: Event types deprecated on 2024-12-04 (changelog-for-the-buy-with-prime-api-v2024-11-01;
#: event-types), each with the type that replaces it: deprecated, not removed, so a
#: subscription may still name one, and receives its successor's events under the old name.
DEPRECATED_EVENT_TYPES = {
    "DELIVERY_IN_TRANSIT": "PACKAGE_DELIVERY_IN_TRANSIT",
    "DELIVERY_COMPLETED": "PACKAGE_DELIVERED",
    "DELIVERY_CANCELLED": "PACKAGE_DELIVERY_CANCELLED",
    "RETURN_DELIVERY_IN_TRANSIT": "RETURN_PACKAGE_IN_TRANSIT",
    "RETURN_DELIVERY_COMPLETED": "RETURN_PACKAGE_DELIVERED",
    "RETURN_DELIVERY_FAILED": "RETURN_PACKAGE_DELIVERY_FAILED",
}
#: Every event type a subscription can name.
SUBSCRIBABLE_EVENT_TYPES = EVENT_TYPES + tuple(DEPRECATED_EVENT_TYPES)
#: The order event types the workshop subscribes to by default (a subset of ORDER_EVENT_TYPES):
#: the main steps of an order's life, which the analytics notebook plots.
SUBSCRIBED_EVENT_TYPES = (
    "ORDER_CONFIRMED",
    "PACKAGE_DELIVERY_IN_TRANSIT",
    "PACKAGE_DELIVERED",
    "PACKAGE_DELIVERY_CANCELLED",
    "RETURN_STARTED",
    "RETURN_COMPLETED",
    "REFUND_REQUESTED",
    "REFUND_COMPLETED",
)

# --- the analytics store (EventStack's AnalyticsStore; docs/analytics.md) ----------------------
#: The bucket the event handler writes each batch's Parquet objects to (empty: it writes none).
ENV_ANALYTICS_BUCKET = "ANALYTICS_BUCKET_NAME"
#: Where the events table's objects live in the bucket: ``events/event_date=.../event_type=.../``.
ANALYTICS_PREFIX = "events/"
#: The Glue database and table over the Parquet objects, and the Athena workgroup that queries them.
GLUE_DATABASE = "bwp_workshop_analytics"
GLUE_TABLE = "events"
ATHENA_WORKGROUP = "bwp-workshop-analytics"
#: What the event handler may do in the bucket: add objects (never read, list or delete).
HANDLER_ANALYTICS_ACTIONS = ("s3:PutObject",)
OUT_ANALYTICS_BUCKET = "AnalyticsBucketName"
OUT_ANALYTICS_RESULTS_BUCKET = "AnalyticsResultsBucketName"
