"""The deployables with exactly what their stacks give them: the OAuth app with only the
environment and secrets of the synthesized task definition (references resolved, secrets read
from Secrets Manager as ECS does), running the image's command behind a proxy that sets the
forwarded headers as an ALB does, completes an install against the sandbox; the handler with
only the Lambda's environment records events. Nothing a deployable reads is missing from its
stack, and nothing its stack sets goes unread."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from bwp_workshop import aws, names
from bwp_workshop.core import event_subscriptions, webhook_auth
from bwp_workshop.core.token_table import TokenTable
from bwp_workshop.deploy import prerequisites
from bwp_workshop.local.lambda_host import sqs_record
from bwp_workshop.outputs import load_outputs
from bwp_workshop.sandbox.event_shapes import FOREIGN_SOURCE, record_key
from bwp_workshop.settings import Settings
from bwp_workshop.stacks.lambda_asset import build_lambda_asset
from bwp_workshop.steps import pipeline as event_pipeline
from bwp_workshop.testing.checkout import CHECKOUT
from bwp_workshop.testing.pipeline_harness import provision
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.sandbox import SandboxHandle, installed_app
from bwp_workshop.testing.tables import create_business_product_table, create_token_table
from oauth_app.config import AppConfig
from tests.lambdas.test_asset import _python312, _receive_all
from tests.oauth_app.proxy import round_robin
from tests.oauth_app.serving import Dockerfile, serving, stage_image_tree

from .conftest import BUILD_DIR, stack_settings, synthesize
from .deployed import (
    RECORDING_SCRIPT,
    Resolver,
    config_reads,
    lambda_function,
    platform_environment,
    task_environment,
)
from .privileges import CALL_LOG_DIR, judge, read_calls, role_statements

ACCOUNT = aws.LOCAL_ACCOUNT_ID


def _table_arn(region: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"


def _endpoints(sandbox: Settings) -> dict[str, str]:
    return {
        "authorize_url": sandbox.authorize_url,
        "token_url": sandbox.token_url,
        "graphql_url": sandbox.graphql_url,
        "public_key": sandbox.public_key,
    }


def test_the_app_installs_with_only_its_task_definition(
    local_settings: Settings, local_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    sandbox_server = local_sandbox
    # Notebook 05 has registered the app's event destination: the install subscribes the merchant.
    destination = event_subscriptions.eventbridge_destination(ACCOUNT, "deployed-app", local_settings.region)
    event_subscriptions.write_registration(
        aws.client("ssm", local_settings),
        names.EVENT_DESTINATION_PARAMETER,
        event_subscriptions.Registration(("ORDER_CONFIRMED",), (destination,)),
    )
    app_port = free_port()
    with round_robin([f"http://127.0.0.1:{app_port}"]) as proxy:
        # The proxy stands in for the load balancer: its address is what the ALB's DNS name resolves to.
        alb = proxy.url.removeprefix("http://")
        registration = sandbox_server.client.register_app(
            launch_url=f"http://{alb}/launch",
            install_url=f"http://{alb}/install",
            settings_url=f"http://{alb}/settings",
            uninstall_url=f"http://{alb}/uninstall",
        )
        prerequisites.store_client_credentials(
            local_settings.model_copy(
                update={"client_id": registration.client_id, "client_secret": registration.client_secret}
            )
        )
        table = create_token_table(local_settings, "infra-tokentable-deployed")
        products = create_business_product_table(local_settings, "infra-businessproducts-deployed")
        synthesized = synthesize(
            stack_settings(tmp_path, event_bus_arn="", **_endpoints(sandbox_server.settings)), tmp_path / "cdk.out"
        )
        resolver = Resolver(
            synthesized.raw,
            region=local_settings.region,
            physical={"TokenTable": table.name, "BusinessProductTable": products.name},
            attributes={("LoadBalancer", "DNSName"): alb},
        )
        stack_env = task_environment(synthesized.raw[names.ECS_STACK], resolver, names.ECS_STACK, local_settings)

        # Nothing the app's configuration needs is missing; nothing the task sets goes unread.
        required, optional = config_reads(AppConfig)
        assert required <= set(stack_env), required - set(stack_env)
        assert set(stack_env) <= required | optional, set(stack_env) - (required | optional)
        assert stack_env[names.ENV_APP_BASE_URL] == f"http://{alb}"
        assert stack_env[names.ENV_CLIENT_ID] == registration.client_id

        dockerfile = Dockerfile.parse()
        tree = stage_image_tree(dockerfile, tmp_path / "image")
        assert "--proxy-headers" in dockerfile.cmd()
        argv = dockerfile.local_cmd(app_port, host="127.0.0.1")
        image_env = dockerfile.env()
        env = {
            **{name: value for name, value in image_env.items() if name != "PATH"},
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            # The proxy connects from 127.0.0.1, which stands in for the ALB's private address.
            "FORWARDED_ALLOW_IPS": image_env["FORWARDED_ALLOW_IPS"] + ",127.0.0.1",
            **platform_environment(local_settings),
            **stack_env,
        }
        # The test's instrument, not the stack's: every AWS call the app makes is recorded.
        calls_file = tmp_path / "app-calls.jsonl"
        env.update(PYTHONPATH=str(CALL_LOG_DIR), BWP_TEST_CALL_LOG=str(calls_file))
        log = tmp_path / "app.log"
        with serving(argv, env, cwd=tree, health_url=f"http://127.0.0.1:{app_port}/health", log=log):
            outcome = sandbox_server.client.install(app_id=registration.app_id)
            assert outcome.ok, outcome
            stored = TokenTable(table).latest(outcome.installation_id)
            assert stored is not None and stored.access_token and stored.refresh_token
            assert [s["eventType"] for s in sandbox_server.client.subscriptions(outcome.installation_id)] == [
                "ORDER_CONFIRMED"
            ]
            # The webhook: what Buy with Prime delivered, put on EventStack's webhook bus.
            aws.client("events", local_settings).create_event_bus(Name=names.WEBHOOK_EVENT_BUS)
            secret = webhook_auth.webhook_secret(registration.client_secret.get_secret_value())
            event = {"eventId": "e-webhook-1", "eventDescriptor": "ORDER_CONFIRMED", "resources": [], "data": {}}
            delivered = httpx.post(
                f"{proxy.url}{names.WEBHOOK_PATH}", json=event, auth=(registration.client_id, secret), timeout=30
            )
            assert delivered.status_code == 202, delivered.text
            removed = sandbox_server.client.uninstall(outcome.installation_id)
            assert removed.ok, removed
            assert TokenTable(table).latest(outcome.installation_id) is None
            assert sandbox_server.client.subscriptions(outcome.installation_id) == []
    assert {path for path, _ in proxy.served} >= {"/launch", "/install", "/installed", "/uninstall"}
    text = log.read_text()
    assert "GET /install 303" in text and "GET /installed 200" in text
    assert registration.client_secret.get_secret_value() not in text and stored.access_token not in text

    # Every call the app made is one the task role allows (its grants, resolved to these ARNs).
    region = local_settings.region
    resolver.attributes[("TokenTable", "Arn")] = _table_arn(region, table.name)
    resolver.attributes[("BusinessProductTable", "Arn")] = _table_arn(region, products.name)
    statements = role_statements(synthesized.raw[names.ECS_STACK], "TaskRole", resolver, names.ECS_STACK)
    calls = read_calls(calls_file, region=region, account=ACCOUNT)
    judged = judge(calls, statements)
    print("\ntask role: used", sorted({c.action for c in judged.allowed}), "\n  unused grants", judged.unused)
    assert {c.action for c in calls} >= {"dynamodb:PutItem", "dynamodb:Query", "ssm:GetParameter", "events:PutEvents"}
    assert judged.denied == []
    assert judged.unused == []  # every grant of the task role is one the app uses


def test_the_handler_records_events_with_only_the_lambda_environment(
    local_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    python = _python312()
    with installed_app(local_sandbox) as installed:
        pipeline = provision(installed)
        settings = pipeline.settings
        # The stack reads the pipeline's partner bus: the handler accepts that bus's source only.
        bus_arn = load_outputs(settings)[names.EVENT_STACK][names.OUT_EVENT_BUS_ARN]
        synthesized = synthesize(
            stack_settings(tmp_path, event_bus_arn=bus_arn, **_endpoints(settings)), tmp_path / "cdk.out"
        )
        suffix = pipeline.data_table.removeprefix("data-")  # as provision names them
        token_table, products_table = f"tokens-{suffix}", f"business-products-{suffix}"
        resolver = Resolver(
            synthesized.raw,
            region=settings.region,
            physical={
                "DataTable": pipeline.data_table,
                "TokenTable": token_table,
                "BusinessProductTable": products_table,
                "DeadLetterQueue": pipeline.dlq_url,
                "AnalyticsBucket": pipeline.analytics_bucket,
            },
        )
        variables = lambda_function(synthesized.raw[names.EVENT_STACK])["Environment"]["Variables"]
        stack_env = {name: str(resolver.resolve(value, names.EVENT_STACK)) for name, value in variables.items()}
        assert stack_env[names.ENV_DATA_TABLE] == pipeline.data_table
        assert stack_env[names.ENV_TOKEN_TABLE] == token_table

        folder = build_lambda_asset(
            Settings(project_dir=CHECKOUT, state_dir=tmp_path / ".bwp", build_dir=BUILD_DIR),
            out_dir=tmp_path / "asset",
        )
        result = local_sandbox.client.emit(orders=1, lifecycle="delivered", seed=5)
        entries = [entry for entry in result["entries"] if entry["source"] != FOREIGN_SOURCE]
        messages = _receive_all(settings, pipeline.queue_url, len(entries))
        assert len(messages) == len(entries) >= 3
        queue_arn = aws.client("sqs", settings).get_queue_attributes(
            QueueUrl=pipeline.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        event = {"Records": [sqs_record(m, queue_arn=queue_arn, region=settings.region) for m in messages]}
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", **platform_environment(settings), **stack_env}
        calls_file = tmp_path / "handler-calls.jsonl"
        script = RECORDING_SCRIPT.format(folder=str(folder), call_log_dir=str(CALL_LOG_DIR), call_log=str(calls_file))
        run = subprocess.run(
            [python, "-I", "-S", "-c", script],
            input=json.dumps(event),
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=120,
            cwd=tmp_path,
        )
    assert run.returncode == 0, run.stderr[-3000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome["response"] == {"batchItemFailures": []}
    stored = {record["event_id"] for record in event_pipeline.data_records(settings)}
    assert stored == {record_key(entry) for entry in entries if entry["malformed"] is None}

    # Nothing the handler's configuration reads is missing; nothing the stack sets goes unread.
    assert set(outcome["config"]) <= set(stack_env), set(outcome["config"]) - set(stack_env)
    unread = set(stack_env) - set(outcome["reads"]) - set(outcome["config"])
    assert unread == set(), unread

    # Every call the handler made is one the Lambda role allows; the grants it left unused.
    region = settings.region
    resolver.attributes.update(
        {
            ("DataTable", "Arn"): _table_arn(region, pipeline.data_table),
            ("TokenTable", "Arn"): _table_arn(region, token_table),
            ("BusinessProductTable", "Arn"): _table_arn(region, products_table),
            ("Queue", "Arn"): queue_arn,
            ("DeadLetterQueue", "Arn"): aws.client("sqs", settings).get_queue_attributes(
                QueueUrl=pipeline.dlq_url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"],
            ("HandlerLogs", "Arn"): f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws/lambda/handler:*",
            ("AnalyticsBucket", "Arn"): f"arn:aws:s3:::{pipeline.analytics_bucket}",
        }
    )
    statements = role_statements(synthesized.raw[names.EVENT_STACK], "HandlerRole", resolver, names.EVENT_STACK)
    calls = read_calls(calls_file, region=region, account=ACCOUNT)
    judged = judge(calls, statements)
    print("\nhandler role: used", sorted({c.action for c in judged.allowed}), "\n  unused grants", judged.unused)
    assert {c.action for c in calls} >= {"dynamodb:PutItem", "secretsmanager:GetSecretValue", "s3:PutObject"}
    assert judged.denied == []
    # A grant taken away is a call denied, as on AWS.
    narrowed = [
        {**statement, "Action": [a for a in statement["Action"] if a != "dynamodb:PutItem"]} for statement in statements
    ]
    assert {call.action for call in judge(calls, narrowed).denied} == {"dynamodb:PutItem"}
