"""Every installed merchant is a tenant (notebooks 05, 06, 99).

A partner app subscribes each merchant to its events when the merchant installs it. The OAuth
app does so after the token exchange, to the destinations registered here
(:func:`register_destinations`, the SSM parameter ``names.EVENT_DESTINATION_PARAMETER``);
notebook 05 registers them once the destination exists and subscribes every installation the
token table already lists (:func:`subscribe_every_installation`), so merchants who installed
before 05 are tenants too. Notebook 06 sends events for every installation
(:func:`send_for_every_installation`); notebook 99 deletes every installation's subscriptions
and the registration (:func:`unsubscribe_every_installation`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .. import aws, names
from ..core import event_subscriptions
from ..core.graphql import GraphQLError
from ..core.token_table import TokenTableError
from ..core.tokens import TokenEndpointError
from ..errors import WorkshopError
from ..settings import Settings
from . import pipeline, subscriptions, webhook_subscriptions
from .install import installations

if TYPE_CHECKING:
    import pandas as pd

#: What one installation's failure is reported as, instead of failing the others.
_INSTALLATION_FAILURES = (GraphQLError, TokenTableError, TokenEndpointError, WorkshopError)


def register_destinations(
    settings: Settings, event_types: tuple[str, ...] | list[str] = names.SUBSCRIBED_EVENT_TYPES
) -> event_subscriptions.Registration:
    """Register the app's event destination and types (the OAuth app subscribes each merchant it
    installs from now on to them); the registration."""
    registration = subscriptions.registration(settings, event_types)
    event_subscriptions.write_registration(aws.client("ssm", settings), names.EVENT_DESTINATION_PARAMETER, registration)
    return registration


def registered(settings: Settings) -> event_subscriptions.Registration | None:
    """The registered destinations and types; None before notebook 05."""
    return event_subscriptions.read_registration(aws.client("ssm", settings), names.EVENT_DESTINATION_PARAMETER)


def installation_ids(settings: Settings) -> list[str]:
    """The installations the token table lists, the settings' own (BWP_INSTALLATION_ID) first."""
    found = [row["installation_id"] for row in installations(settings)]
    return sorted(found, key=lambda iid: (iid != settings.installation_id, iid))


def subscribe_every_installation(settings: Settings) -> list[dict[str, Any]]:
    """Register the destination, then subscribe every installation in the token table to it (the
    ones the app subscribed at install are left as they are). One row per installation: its
    subscriptions to the destination, its business product, and what went wrong, if anything."""
    registration = register_destinations(settings)
    rows = []
    for iid in installation_ids(settings):
        row: dict[str, Any] = {"installation_id": iid, "this notebook's": iid == settings.installation_id}
        try:
            made = subscriptions.subscribe_events(registration.event_types, settings=settings, installation_id=iid)
        except _INSTALLATION_FAILURES as error:
            rows.append({**row, "subscriptions": 0, "business_product": "", "problem": str(error)})
            continue
        products = sorted(event_subscriptions.business_products(made))
        rows.append({**row, "subscriptions": len(made), "business_product": ", ".join(products), "problem": ""})
    return rows


def unsubscribe_every_installation(settings: Settings) -> dict[str, int]:
    """Delete every installation's subscriptions to the destination, then the registration (no
    install subscribes anyone after this)."""
    deleted = failed = 0
    registration = registered(settings)  # 05's webhook, if it chose one: its subscriptions and profiles too
    for iid in installation_ids(settings):
        try:
            deleted += subscriptions.unsubscribe_events(settings, iid)
            deleted += webhook_subscriptions.unsubscribe_webhook(settings, registration, iid)
        except _INSTALLATION_FAILURES:
            failed += 1
    forget_registration(settings)
    return {"subscriptions deleted": deleted, "installations that refused": failed}


def forget_registration(settings: Settings) -> bool:
    """Delete the registration (no install subscribes anyone after this); whether there was one."""
    try:
        aws.client("ssm", settings).delete_parameter(Name=names.EVENT_DESTINATION_PARAMETER)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise
        return False
    return True


def send_for_every_installation(
    orders: int, *, settings: Settings, history_hours: float = 0.0, timeout: float = 120
) -> list[dict[str, Any]]:
    """Events for every installation but the settings' own (its events are 06's first send):
    ``orders`` orders of each merchant, waited for in the data table. One row per installation:
    the events sent and stored. A merchant with no subscriptions gets no events: install it
    again, or run notebook 05 again, which subscribes every installation."""
    rows = []
    others = [iid for iid in installation_ids(settings) if iid != settings.installation_id]
    if not others:
        return [
            {
                "installation_id": "(no other merchant)",
                "events sent": 0,
                "stored": 0,
                "what to do": "install the app for another merchant in the sandbox console (notebook 04), "
                "then run this cell again",
            }
        ]
    for iid in others:
        sent = pipeline.send_test_events(orders, settings=settings, installation_id=iid, history_hours=history_hours)
        stored = pipeline.wait_for_records(settings, sent["keys"], timeout=timeout) if sent["keys"] else []
        rows.append(
            {
                "installation_id": iid,
                "events sent": len(sent["event_ids"]),
                "stored": len({record["event_id"] for record in stored}),
                "what to do": "" if sent["event_ids"] else "no subscriptions: run notebook 05 again",
            }
        )
    return rows


def merchants(frame: pd.DataFrame, settings: Settings) -> list[dict[str, Any]]:
    """07's analytics per merchant: every installation that has records (``frame``, the data
    table as :func:`bwp_workshop.steps.analytics.load_records` gives it) or is installed, with
    its store's site (from the API, as that installation), its records, confirmed orders and
    their value. An installation no longer installed keeps its records; its site is not asked."""
    from . import analytics, api

    installed = installation_ids(settings)
    orders = analytics.orders(frame)
    rows = []
    for iid in installed + sorted(set(frame["installation_id"].dropna()) - set(installed)):
        site = ""
        if iid in installed:
            try:
                site = str(api.store(settings, iid).get("siteId", ""))
            except _INSTALLATION_FAILURES as error:
                site = f"(not answered: {error})"
        mine = orders[orders["installation_id"] == iid]
        rows.append(
            {
                "installation_id": iid,
                "installed": iid in installed,
                "site_id": site,
                "records": int((frame["installation_id"] == iid).sum()),
                "orders": len(mine),
                "order value": ", ".join(
                    f"{value:,.2f} {currency}"
                    for currency, value in mine.groupby("order_currency")["order_total_amount"].sum().items()
                ),
            }
        )
    return rows
