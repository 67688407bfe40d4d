"""The environment of each deployable, built in one place: the stacks set it on the Fargate
task and the Lambda (resource names as CloudFormation references), and the local runtime starts
the local app and the event runner with it (resource names from the stack outputs). So the
OAuth app and the event handler read the same variables on both targets.

The client id and secret are not part of the app's environment here: on aws ECS injects them
from Secrets Manager, on local the runtime adds them from the settings.
"""

from __future__ import annotations

from . import names
from .settings import Settings


def app_environment(
    settings: Settings,
    *,
    token_table: str,
    business_product_table: str,
    app_base_url: str,
    public_key: str | None = None,
) -> dict[str, str]:
    """What ``oauth_app.config.AppConfig`` reads besides the client credentials: the tables, the
    base URL registered with Buy with Prime, its authorize, token and GraphQL endpoints, the
    parameter with the event destinations every merchant it installs is subscribed to and,
    when it differs from the key Buy with Prime publishes (the app's default), the
    verification-token key (``public_key``, default the settings')."""
    environment = {
        names.ENV_TOKEN_TABLE: token_table,
        names.ENV_BUSINESS_PRODUCT_TABLE: business_product_table,
        names.ENV_APP_BASE_URL: app_base_url,
        names.ENV_AUTHORIZE_URL: settings.authorize_url,
        names.ENV_TOKEN_URL: settings.token_url,
        names.ENV_GRAPHQL_URL: settings.graphql_url,
        names.ENV_API_VERSION: settings.api_version,
        names.ENV_EVENT_DESTINATION_PARAMETER: names.EVENT_DESTINATION_PARAMETER,
        names.ENV_WEBHOOK_EVENT_BUS: names.WEBHOOK_EVENT_BUS,
    }
    from .core.verification import BWP_PUBLIC_KEY_PEM  # PyJWT and cryptography: only when needed

    key = settings.public_key if public_key is None else public_key
    if key and key.strip() != BWP_PUBLIC_KEY_PEM.strip():
        environment[names.ENV_PUBLIC_KEY] = key
    return environment


def event_source(settings: Settings, event_bus_arn: str = "") -> str:
    """The partner event source EventStack's rule matches and the event handler accepts,
    exactly: the source of the partner bus ``event_bus_arn`` (default ``EVENT_BUS_ARN``; a
    partner bus carries only the source it is named after), else
    ``aws.partner/buywithprime/<BWP_EVENT_SOURCE_NAME>``."""
    arn = event_bus_arn or settings.event_bus_arn
    return names.bus_name(arn) if arn else names.partner_source_name(settings.event_source_name)


def deployed_event_source(settings: Settings) -> str:
    """:func:`event_source` of the partner bus the deployed EventStack reads (its
    ``EventBusArn`` output), else of the settings."""
    from .outputs import load_outputs

    return event_source(settings, load_outputs(settings).get(names.EVENT_STACK, {}).get(names.OUT_EVENT_BUS_ARN, ""))


def lambda_environment(
    settings: Settings,
    *,
    data_table: str,
    token_table: str,
    business_product_table: str,
    dead_letter_queue_url: str,
    event_source: str,
    analytics_bucket: str = "",
) -> dict[str, str]:
    """What the event handler reads: its tables, its dead-letter queue, the one partner event
    source it accepts (and the workshop's test and webhook sources, which reach its queue only
    through EventStack's own buses), the client credentials secret's name, the Buy with Prime token and GraphQL
    endpoints, its logging and the analytics bucket it writes each batch to (left out when empty:
    an EventStack deployed before the bucket existed)."""
    environment = {
        names.ENV_EVENT_SOURCE: event_source,
        names.ENV_TEST_EVENT_SOURCE: names.TEST_EVENT_SOURCE,
        names.ENV_WEBHOOK_EVENT_SOURCE: names.WEBHOOK_EVENT_SOURCE,
        names.ENV_DATA_TABLE: data_table,
        names.ENV_TOKEN_TABLE: token_table,
        names.ENV_BUSINESS_PRODUCT_TABLE: business_product_table,
        names.ENV_DEAD_LETTER_QUEUE_URL: dead_letter_queue_url,
        names.ENV_CLIENT_SECRET_NAME: names.CLIENT_SECRET_NAME,
        names.ENV_TOKEN_URL: settings.token_url,
        names.ENV_GRAPHQL_URL: settings.graphql_url,
        names.ENV_API_VERSION: settings.api_version,
        names.ENV_POWERTOOLS_SERVICE: names.EVENT_HANDLER_SERVICE,
        names.ENV_LOG_LEVEL: settings.log_level,
    }
    if analytics_bucket:
        environment[names.ENV_ANALYTICS_BUCKET] = analytics_bucket
    return environment
