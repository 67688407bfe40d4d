"""The OAuth handler's configuration, from the environment the stack (or the local runtime)
gives the container. Variable names are those of :mod:`bwp_workshop.names`."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bwp_workshop import names
from bwp_workshop.core.verification import BWP_PUBLIC_KEY_PEM, checked_public_key


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class AppConfig(BaseSettings):
    """Everything the app reads at start. Field values can also be passed by name (tests)."""

    model_config = SettingsConfigDict(
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
        hide_input_in_errors=True,  # a validation error must never echo the client secret
    )

    token_table_name: str = Field(
        min_length=1, validation_alias=_env(names.ENV_TOKEN_TABLE), description="DynamoDB token table."
    )
    app_base_url: str = Field(
        "",
        validation_alias=_env(names.ENV_APP_BASE_URL),
        description="The app's external origin as registered with Buy with Prime (http(s)://host[:port]).",
    )
    request_url_from: Literal["base_url", "forwarded"] = Field(
        "base_url",
        validation_alias=_env(names.ENV_REQUEST_URL_FROM),
        description="base_url: requests are hashed as APP_BASE_URL + path + query; forwarded: scheme from "
        "a trusted proxy's X-Forwarded-Proto (uvicorn --proxy-headers) and host from the Host header.",
    )
    client_id: str = Field("", validation_alias=_env(names.ENV_CLIENT_ID))
    client_secret: SecretStr = Field(SecretStr(""), validation_alias=_env(names.ENV_CLIENT_SECRET))
    authorize_url: str = Field(min_length=1, validation_alias=_env(names.ENV_AUTHORIZE_URL))
    token_url: str = Field(min_length=1, validation_alias=_env(names.ENV_TOKEN_URL))
    public_key: str = Field(
        BWP_PUBLIC_KEY_PEM,
        min_length=1,
        validation_alias=_env(names.ENV_PUBLIC_KEY),
        description="PEM of the EC P-256 key that signs verification tokens (default: the key Buy with Prime "
        "publishes; the local target sets the sandbox's).",
    )
    business_product_table: str = Field(
        "",
        validation_alias=_env(names.ENV_BUSINESS_PRODUCT_TABLE),
        description="DynamoDB table of business product -> installation (written when the installation "
        "subscribes to events, removed here at uninstall); empty: the app removes nothing from it.",
    )
    graphql_url: str = Field(
        "",
        validation_alias=_env(names.ENV_GRAPHQL_URL),
        description="Buy with Prime's GraphQL API: the app subscribes each merchant it installs to the app's "
        "event destinations, and deletes the merchant's subscriptions at uninstall; empty: it does neither.",
    )
    api_version: str = Field("", validation_alias=_env(names.ENV_API_VERSION))
    event_destination_parameter: str = Field(
        "",
        validation_alias=_env(names.ENV_EVENT_DESTINATION_PARAMETER),
        description="SSM parameter with the event destinations and types every installation is subscribed to "
        "(notebook 05 writes it); empty: an install subscribes nothing.",
    )
    webhook_event_bus: str = Field(
        "",
        validation_alias=_env(names.ENV_WEBHOOK_EVENT_BUS),
        description="EventBridge bus the webhook puts Buy with Prime events on; empty: no webhook.",
    )
    state_ttl_seconds: int = Field(600, ge=30, le=3600, validation_alias=_env(names.ENV_STATE_TTL))
    token_timeout_seconds: float = Field(10.0, gt=0, description="Per request to the token endpoint.")
    token_attempts: int = Field(3, ge=1, le=6, description="Requests per code exchange (transient errors).")

    @field_validator("app_base_url")
    @classmethod
    def _origin(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"{names.ENV_APP_BASE_URL} must look like http(s)://host[:port], got {value!r}")
        if parts.path not in {"", "/"} or parts.query or parts.fragment:
            raise ValueError(f"{names.ENV_APP_BASE_URL} must be an origin without path or query, got {value!r}")
        # Scheme and host are case-insensitive; Buy with Prime calls the lowercased URL registered.
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}"

    @field_validator("authorize_url", "token_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.strip()

    @field_validator("public_key")
    @classmethod
    def _public_key(cls, value: str) -> str:
        try:
            return checked_public_key(value)
        except ValueError as error:
            raise ValueError(f"{names.ENV_PUBLIC_KEY} {error}") from None

    @model_validator(mode="after")
    def _base_url_needed(self) -> AppConfig:
        if self.request_url_from == "base_url" and not self.app_base_url:
            raise ValueError(
                f"{names.ENV_APP_BASE_URL} is not set: set it to the URL registered with Buy with Prime "
                f"(or set {names.ENV_REQUEST_URL_FROM}=forwarded behind a trusted proxy)"
            )
        return self

    @property
    def has_client_credentials(self) -> bool:
        return bool(self.client_id and self.client_secret.get_secret_value())
