"""The event Lambda's handler against the local AWS (tables, secret) and a Buy with Prime
double: every branch of a record's processing, partial batch failures, idempotency."""

from __future__ import annotations

import io
import json
import sys
import threading
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from bwp_workshop.core.tokens import TokenSet
from bwp_workshop.names import METRIC_DUPLICATES, METRIC_STORED

from .doubles import (
    BP,
    CLIENT_ID,
    FakeBwp,
    counted,
    envelope,
    error_response,
    failed_ids,
    invoke,
    sqs_event,
    sqs_record,
    stored,
)


def test_a_batch_of_every_shape_and_resource_kind_is_recorded(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: FakeBwp, capsys: pytest.CaptureFixture[str]
) -> None:
    bodies = [
        envelope("ORDER_CONFIRMED"),
        envelope("REFUND_REQUESTED", resources=[f"businessProduct/{BP}/order/o-1/refund/r-1"]),
        envelope("RETURN_STARTED", shape="legacy", resources=[f"businessProduct/{BP}/order/o-1/return/x-1"]),
        envelope("PACKAGE_DELIVERED", resources=[f"businessProduct/{BP}/order/o-1/delivery/d-1"]),
        envelope("BUYABILITY_CHANGED", resources=[f"businessProduct/{BP}/items/sku-1"]),
    ]
    response = invoke(handler_module, processor, sqs_event(*bodies))
    assert response == {"batchItemFailures": []}
    items = stored(tables)
    assert set(items) == {body["detail"]["eventId"] for body in bodies}

    confirmed = items[bodies[0]["detail"]["eventId"]]
    assert confirmed["event_type"] == "ORDER_CONFIRMED"
    assert confirmed["event_time"] == "2026-11-28T07:00:00Z"
    assert (confirmed["installation_id"], confirmed["site_id"], confirmed["widget_id"]) == ("inst-1", "site-1", "w-1")
    assert confirmed["order_id"] == "o-1" and confirmed["order_execution_state"] == "STARTED"
    assert confirmed["order_line_count"] == 2
    assert (confirmed["order_total_amount"], confirmed["order_currency"]) == (Decimal("59.97"), "USD")
    assert confirmed["received_at"].endswith("+00:00") and confirmed["shape"] == "2024-11-01"
    assert items[bodies[1]["detail"]["eventId"]]["resource_ids"] == {"order": "o-1", "refund": "r-1"}
    assert items[bodies[2]["detail"]["eventId"]]["shape"] == "legacy"
    buyability = items[bodies[4]["detail"]["eventId"]]
    assert "order_id" not in buyability and buyability["resource_ids"] == {"items": "sku-1"}

    # The store is asked once per installation, each order once per batch.
    assert (bwp.queries("buyWithPrimeStore"), bwp.queries("order(")) == (1, 1)
    assert counted(capsys.readouterr().out)[METRIC_STORED] == 5


def test_each_order_is_queried_once_per_batch_and_in_parallel(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: FakeBwp
) -> None:
    for n in range(2, 6):
        bwp.orders[f"o-{n}"] = {**bwp.orders["o-1"], "id": f"o-{n}", "lineItems": [{"id": "li"}] * n}
    bodies = [envelope(resources=[f"businessProduct/{BP}/order/o-{n}"]) for n in range(1, 6) for _ in range(3)]
    assert invoke(handler_module, processor, sqs_event(*bodies)) == {"batchItemFailures": []}
    assert bwp.queries("order(") == 5
    items = stored(tables)
    assert len(items) == 15
    assert {item["order_id"]: item["order_line_count"] for item in items.values()} == {
        "o-1": 2,
        "o-2": 2,
        "o-3": 3,
        "o-4": 4,
        "o-5": 5,
    }
    assert invoke(handler_module, processor, sqs_event(envelope())) == {"batchItemFailures": []}
    assert bwp.queries("order(") == 6  # a new batch asks again: the order may have changed


def test_records_that_can_never_succeed_fail_and_every_buy_with_prime_event_is_stored(
    handler_module: Any, processor: Any, tables: dict[str, Any], handler_logs: io.StringIO
) -> None:
    kept = [
        envelope(),
        envelope(installation=None),  # the tenant from the business product
        envelope(shape="2024-01-01"),
        {**envelope(), "detail": {"garbage": 1}},  # a detail of no known shape: kept all the same
    ]
    records = [
        sqs_record("not json", message_id="m-not-json"),
        sqs_record({**envelope(), "source": "com.example"}, message_id="m-foreign"),
        sqs_record(envelope(installation=None, resources=["order/o-1"]), message_id="m-no-tenant"),
        sqs_record(envelope(installation=None, resources=["businessProduct/bp-nobody/order/o-1"]), message_id="m-bp"),
        *(sqs_record(body, message_id=f"m-kept-{n}") for n, body in enumerate(kept)),
    ]
    response = invoke(handler_module, processor, {"Records": records})
    assert sorted(failed_ids(response)) == sorted(["m-not-json", "m-foreign", "m-no-tenant", "m-bp"])
    assert len(stored(tables)) == 4
    logs = [json.loads(line) for line in handler_logs.getvalue().splitlines() if line.startswith("{")]
    failures = {entry["message_id"]: entry for entry in logs if entry.get("message") == "record failed"}
    assert failures["m-not-json"]["reason"] == "malformed event: the message body is not JSON"
    assert failures["m-not-json"]["failure"] == "permanent"
    assert "names no tenant" in failures["m-no-tenant"]["reason"]
    assert "bp-nobody maps to no installation" in failures["m-bp"]["reason"]
    assert failures["m-bp"]["failure"] == "permanent"


def test_duplicate_delivery_is_stored_once(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: FakeBwp, capsys: pytest.CaptureFixture[str]
) -> None:
    body = envelope()
    first = invoke(handler_module, processor, sqs_event(body, body))  # twice in one batch
    assert first == {"batchItemFailures": []}
    assert bwp.queries("order(") == 1
    again = invoke(handler_module, processor, sqs_event(body))  # redelivered later
    assert again == {"batchItemFailures": []}  # acknowledged: the conditional put refused it
    assert len(stored(tables)) == 1
    metrics = counted(capsys.readouterr().out)  # both invocations' EMF lines
    assert (metrics[METRIC_STORED], metrics[METRIC_DUPLICATES]) == (1, 2)


def test_a_redelivery_racing_the_first_delivery_is_not_stored_twice(
    handler_module: Any, processor: Any, tables: dict[str, Any]
) -> None:
    body = envelope()
    batch = processor.new_batch()  # no pre-check: as if both deliveries ran at the same time
    assert batch.handle(SQSRecord(sqs_record(body))) is not None
    assert processor.new_batch().handle(SQSRecord(sqs_record(body))) is None  # the conditional put refused it
    assert len(stored(tables)) == 1


def test_one_token_lookup_per_installation_per_batch(
    handler_module: Any, processor: Any, tables: dict[str, Any]
) -> None:
    tables["tokens"].put("inst-2", TokenSet(access_token="at-x", refresh_token="rt-x", expires_in=900))
    tables["business_products"].put("bp-2", "inst-2")
    inst_2 = ["businessProduct/bp-2/order/o-1"]
    bodies = [envelope() for _ in range(4)] + [envelope(installation="inst-2", resources=inst_2) for _ in range(3)]
    before = processor.tokens.calls
    response = invoke(handler_module, processor, sqs_event(*bodies))
    # inst-2's token is unknown to the API double: its records are stored without the API's facts.
    assert failed_ids(response) == [] and len(stored(tables)) == 7
    assert sum(1 for item in stored(tables).values() if not item["enriched"]) == 3
    assert processor.tokens.calls - before == 2  # one query per installation


def test_an_expiring_token_is_refreshed_once_and_stored(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: FakeBwp
) -> None:
    tables["tokens"].put("inst-1", TokenSet(access_token="at-0", refresh_token="rt-0", expires_in=30))
    response = invoke(handler_module, processor, sqs_event(envelope(), envelope()))
    assert response == {"batchItemFailures": []}
    assert bwp.token_requests == 1
    latest = tables["tokens"].latest("inst-1")
    assert (latest.access_token, latest.refresh_token) == ("at-1", "rt-1")
    assert {call["headers"]["authorization"] for call in bwp.graphql_requests} == {"Bearer at-1"}


def test_concurrent_invocations_refresh_an_expiring_token_once(
    handler_module: Any, make_processor: Any, tables: dict[str, Any], bwp: FakeBwp
) -> None:
    tables["tokens"].put("inst-1", TokenSet(access_token="at-0", refresh_token="rt-0", expires_in=30))
    bwp.refresh_delay = 0.2  # the winner holds its lease a while; the others must wait for its token
    processors = [make_processor() for _ in range(4)]  # four Lambda instances, each running one invocation's batch
    results: list[list[bool]] = []

    def run(processor: Any) -> None:
        records = sqs_event(envelope(), envelope())["Records"]
        batch = processor.new_batch()
        batch.prepare(SQSRecord(record) for record in records)
        results.append([batch.handle(SQSRecord(record)) is not None for record in records])

    threads = [threading.Thread(target=run, args=(processor,)) for processor in processors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [[True, True]] * 4  # every record stored
    assert bwp.token_requests == 1  # rt-0 was spent once; a second use would be invalid_grant
    assert len(stored(tables)) == 8


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (httpx.Response(400, json={"error": "invalid_grant"}), "permanent"),
        (httpx.Response(503), "transient"),
    ],
)
def test_a_failed_refresh_is_retried_or_stores_the_records_unenriched(
    handler_module: Any,
    processor: Any,
    tables: dict[str, Any],
    bwp: FakeBwp,
    fault: httpx.Response,
    kind: str,
    handler_logs: io.StringIO,
) -> None:
    tables["tokens"].put("inst-1", TokenSet(access_token="at-0", refresh_token="rt-0", expires_in=30))
    processor.token_endpoint()._max_wait = 0  # retries without waiting
    bwp.token_faults = [fault] * 10
    event = sqs_event(envelope(), envelope())
    response = invoke(handler_module, processor, event)
    if kind == "permanent":  # refused for good: stored without the API's facts
        assert failed_ids(response) == [] and len(stored(tables)) == 2
        assert {item["enriched"] for item in stored(tables).values()} == {False}
    else:  # retried later
        assert len(failed_ids(response)) == 2 and not stored(tables)
    assert bwp.token_requests == (1 if kind == "permanent" else 4)  # per batch, not per record
    out = handler_logs.getvalue()
    assert f'"failure":"{kind}"' in out.replace(" ", "")
    assert CLIENT_SECRET_FRAGMENT not in out and "rt-0" not in out


CLIENT_SECRET_FRAGMENT = "client-secret-value"


def test_an_installation_without_token_is_stored_unenriched(
    handler_module: Any, processor: Any, tables: dict[str, Any]
) -> None:
    tables["business_products"].put("bp-ghost", "ghost")
    body = envelope(installation="ghost", resources=["businessProduct/bp-ghost/order/o-1"])
    response = invoke(handler_module, processor, {"Records": [sqs_record(body, message_id="m")]})
    assert failed_ids(response) == []
    item = stored(tables)[body["detail"]["eventId"]]
    assert (item["installation_id"], item["enriched"]) == ("ghost", False)
    assert "no token" in item["unenriched_reason"] and "site_id" not in item and "order_execution_state" not in item
    assert item["order_id"] == "o-1"  # what the event itself says is kept


def test_transient_api_errors_are_retried_within_the_record(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: FakeBwp
) -> None:
    bwp.graphql_faults = [httpx.Response(502), error_response("ThrottlingError"), httpx.Response(429)]
    response = invoke(handler_module, processor, sqs_event(envelope()))
    assert response == {"batchItemFailures": []}
    assert len(stored(tables)) == 1 and processor.graphql.retries == 3


def test_an_api_outage_fails_the_record_for_redelivery(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: FakeBwp, handler_logs: io.StringIO
) -> None:
    bwp.graphql_faults = [httpx.Response(503)] * 5
    body = envelope()
    response = invoke(handler_module, processor, {"Records": [sqs_record(body, message_id="m-1")]})
    assert failed_ids(response) == ["m-1"] and not stored(tables)
    assert '"failure":"transient"' in handler_logs.getvalue().replace(" ", "")
    # Redelivered once the API is back: recorded.
    assert invoke(handler_module, processor, sqs_event(body)) == {"batchItemFailures": []}
    assert len(stored(tables)) == 1


def test_permanent_api_errors_store_the_record_unenriched_without_retries(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: FakeBwp
) -> None:
    item_event = envelope("BUYABILITY_CHANGED", resources=[f"businessProduct/{BP}/items/sku-1"])
    assert invoke(handler_module, processor, sqs_event(item_event)) == {"batchItemFailures": []}  # store cached
    bwp.graphql_faults = [error_response("AccessDeniedError", "no access")]
    missing = envelope(resources=[f"businessProduct/{BP}/order/o-404"])
    records = [sqs_record(envelope(), message_id="m-denied"), sqs_record(missing, message_id="m-missing")]
    records.append(sqs_record(envelope("INVENTORY_CHANGED", resources=[]), message_id="m-ok"))
    response = invoke(handler_module, processor, {"Records": records})
    assert failed_ids(response) == []
    assert processor.graphql.retries == 0 and len(stored(tables)) == 4
    unenriched = {item["order_id"]: item for item in stored(tables).values() if not item["enriched"]}
    assert set(unenriched) == {"o-1", "o-404"}
    assert all(item["site_id"] == "site-1" for item in unenriched.values())  # the store's facts are kept


def test_a_store_the_api_denies_stores_the_installations_records_unenriched(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: FakeBwp
) -> None:
    bwp.graphql_faults = [error_response("AccessDeniedError", "no access")]
    response = invoke(handler_module, processor, sqs_event(envelope(), envelope(resources=[])))
    assert failed_ids(response) == [] and len(stored(tables)) == 2
    assert all("AccessDeniedError" in item["unenriched_reason"] for item in stored(tables).values())
    assert bwp.queries("buyWithPrimeStore") == 1  # once per batch, not per record


def test_logs_carry_no_tokens_or_secrets(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: FakeBwp, handler_logs: io.StringIO
) -> None:
    tables["tokens"].put("inst-1", TokenSet(access_token="at-0", refresh_token="rt-0", expires_in=30))
    bwp.graphql_faults = [error_response("AccessDeniedError")]
    invoke(handler_module, processor, sqs_event(envelope(), "garbage", envelope()))
    out = handler_logs.getvalue()
    assert "record failed" in out
    for secret in ("at-0", "at-1", "rt-0", "rt-1", CLIENT_SECRET_FRAGMENT, "Bearer"):
        assert secret not in out


def test_the_handler_reads_its_configuration_from_the_environment(
    handler_module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RuntimeError, match="DATA_TABLE_NAME"):
        handler_module.Config.from_environment({})
    env = {
        "DATA_TABLE_NAME": "d",
        "TOKEN_TABLE_NAME": "t",
        "CLIENT_SECRET_NAME": "s",
        "BWP_TOKEN_URL": "http://x/token",
        "BWP_GRAPHQL_URL": "http://x/graphql",
        "BWP_API_VERSION": "2024-11-01",
    }
    with pytest.raises(RuntimeError, match="BWP_EVENT_SOURCE"):  # no source: it would accept none
        handler_module.Config.from_environment(env)
    config = handler_module.Config.from_environment({**env, "BWP_EVENT_SOURCE": "aws.partner/buywithprime/x"})
    assert (config.data_table, config.api_version) == ("d", "2024-11-01")
    assert config.event_source == "aws.partner/buywithprime/x"


def test_the_batch_cache_computes_once_per_key_and_remembers_a_failure(handler_module: Any) -> None:
    processing = sys.modules["event_processing"]  # the handler's sibling module, as on Lambda
    cache = processing.BatchCache()
    calls: list[str] = []

    def compute(key: str) -> Any:
        def run() -> str:
            calls.append(key)
            if key == "bad":
                raise processing.RecordFailed("no token for bad", processing.PERMANENT)
            return key.upper()

        return run

    assert cache.get("a", compute("a")) == cache.get("a", compute("a")) == "A"
    raised = []
    for _ in range(2):
        with pytest.raises(processing.RecordFailed) as failure:
            cache.get("bad", compute("bad"))
        assert (failure.value.reason, failure.value.kind) == ("no token for bad", processing.PERMANENT)
        raised.append(failure.value)
    assert calls == ["a", "bad"]  # each key computed once, its failure remembered
    assert raised[0] is not raised[1]  # a fresh exception per record: no shared traceback


def test_a_rotated_client_secret_is_picked_up_without_a_redeploy(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: FakeBwp, lambda_settings: Any
) -> None:
    """Buy with Prime issued a new client secret and the operator put it in Secrets Manager: the
    warm instance's next refresh is refused (invalid_client), reads the secret again and refreshes
    with the new one; nothing is stored unenriched (security review L7)."""
    from bwp_workshop import aws
    from bwp_workshop.names import CLIENT_SECRET_NAME

    tables["tokens"].put("inst-1", TokenSet(access_token="at-0", refresh_token="rt-0", expires_in=30))
    assert invoke(handler_module, processor, sqs_event(envelope())) == {"batchItemFailures": []}
    first_endpoint = processor.token_endpoint()
    rotated = "client-secret-rotated-9876543210"
    aws.client("secretsmanager", lambda_settings).put_secret_value(
        SecretId=CLIENT_SECRET_NAME, SecretString=json.dumps({"client_id": CLIENT_ID, "client_secret": rotated})
    )
    bwp.client_secret = rotated
    latest = tables["tokens"].latest("inst-1")
    tables["tokens"].put("inst-1", TokenSet(access_token=latest.access_token, refresh_token=latest.refresh_token,
                                            expires_in=30))  # fmt: skip
    assert invoke(handler_module, processor, sqs_event(envelope(), envelope())) == {"batchItemFailures": []}
    assert bwp.token_requests == 3  # the first refresh, the refused one, the one with the new secret
    assert processor.token_endpoint() is not first_endpoint and processor.token_endpoint().uses(CLIENT_ID, rotated)
    assert {item["enriched"] for item in stored(tables).values()} == {True} and len(stored(tables)) == 3
