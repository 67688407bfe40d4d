"""The real cdk CLI (pinned in package.json) against the local AWS: bootstrap, deploy two
stacks through change sets with an export/import between them, redeploy without and with a
change, destroy, and nothing is left."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bwp_workshop import aws
from bwp_workshop.deploy.cdk import pinned_cli_version, run_cdk
from bwp_workshop.settings import Settings
from bwp_workshop.testing.checkout import CHECKOUT

APP = f"{sys.executable} {CHECKOUT / 'tests' / 'fixtures' / 'cdk_app' / 'app.py'}"


def test_the_pinned_cli_is_installed_and_matches_package_json(local_settings: Settings) -> None:
    version = run_cdk(["--version"], local_settings).stdout.split()[0]
    assert version == pinned_cli_version(local_settings)
    lock = json.loads((CHECKOUT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == version


def test_bootstrap_deploy_redeploy_destroy(local_settings: Settings, tmp_path: Path) -> None:
    cfn = aws.client("cloudformation", local_settings)
    cloud_assembly = tmp_path / "cdk.out"
    outputs_file = tmp_path / "outputs.json"

    run_cdk(
        ["bootstrap", f"aws://{aws.LOCAL_ACCOUNT_ID}/{local_settings.region}"],
        local_settings,
        app=APP,
        output_dir=cloud_assembly,
    )
    deploy = ["deploy", "--all", "--require-approval", "never", "--outputs-file", str(outputs_file)]
    run_cdk(deploy, local_settings, app=APP, output_dir=cloud_assembly)
    outputs = json.loads(outputs_file.read_text())
    assert outputs["PatchProducer"]["QueueName"] == "patch-check-queue"
    assert outputs["PatchProducer"]["Marker"] == "one"
    assert outputs["PatchConsumer"] == {"ImportedQueueName": "patch-check-queue"}

    unchanged = run_cdk(deploy, local_settings, app=APP, output_dir=cloud_assembly)
    assert "PatchProducer (no changes)" in unchanged.stdout + unchanged.stderr

    run_cdk([*deploy, "--context", "marker=two"], local_settings, app=APP, output_dir=cloud_assembly)
    assert json.loads(outputs_file.read_text())["PatchProducer"]["Marker"] == "two"
    assert {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]} == {
        "CDKToolkit": "CREATE_COMPLETE",
        "PatchProducer": "UPDATE_COMPLETE",
        "PatchConsumer": "CREATE_COMPLETE",
    }

    run_cdk(["destroy", "--all", "--force"], local_settings, app=APP, output_dir=cloud_assembly)
    assert [s["StackName"] for s in cfn.describe_stacks()["Stacks"]] == ["CDKToolkit"]
    assert "QueueUrls" not in aws.client("sqs", local_settings).list_queues()
    assert aws.client("secretsmanager", local_settings).list_secrets()["SecretList"] == []
    assert [e["Name"] for e in cfn.list_exports()["Exports"]] == ["CdkBootstrap-hnb659fds-FileAssetKeyArn"]
