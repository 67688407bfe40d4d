"""Each fix in bwp_workshop.local.moto_patches, checked through a real patched moto server.

If moto changes under a fix, one of these fails and names the fix."""

from __future__ import annotations

import json
import re
from typing import Any

import moto
import pytest
from botocore.exceptions import ClientError

from bwp_workshop import aws
from bwp_workshop.errors import MotoPatchError
from bwp_workshop.local import moto_patches
from bwp_workshop.settings import Settings
from bwp_workshop.testing.checkout import CHECKOUT


def _queue_stack(queue: str, export: str | None, extra_output: str = "one") -> str:
    outputs: dict[str, Any] = {
        "QueueName": {"Value": {"Fn::GetAtt": ["Queue", "QueueName"]}},
        "Extra": {"Value": extra_output},
    }
    if export:
        outputs["QueueName"]["Export"] = {"Name": export}
    return json.dumps(
        {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": queue}}}, "Outputs": outputs}
    )


def _deploy(
    cfn: Any, stack: str, template: str, kind: str = "CREATE", change_set: str = "cdk-deploy-change-set"
) -> None:
    """What the cdk CLI does: create a change set, then execute it."""
    cfn.create_change_set(StackName=stack, ChangeSetName=change_set, TemplateBody=template, ChangeSetType=kind)
    cfn.execute_change_set(StackName=stack, ChangeSetName=change_set)


def _outputs(cfn: Any, stack: str) -> dict[str, str]:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def test_moto_is_pinned_to_the_version_the_fixes_were_written_for() -> None:
    assert moto.__version__ == moto_patches.MOTO_VERSION
    pyproject = (CHECKOUT / "pyproject.toml").read_text()
    assert f'"moto[server]=={moto_patches.MOTO_VERSION}"' in pyproject


def test_apply_refuses_another_moto_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_patches, "_applied", [])
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(MotoPatchError, match=r"needs moto 5\.2\.5; moto 9\.9\.9 is installed"):
        moto_patches.apply()


def test_apply_fails_loudly_when_a_patched_attribute_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.cloudformation import responses

    monkeypatch.setattr(moto_patches, "_applied", [])
    monkeypatch.delattr(responses.CloudFormationResponse, "describe_change_set")
    with pytest.raises(MotoPatchError, match=r"CloudFormationResponse\.describe_change_set.*no longer applies"):
        moto_patches.apply()


def test_every_patch_module_is_applied_and_says_what_each_patch_fixes() -> None:
    import pkgutil

    modules = {info.name for info in pkgutil.iter_modules(moto_patches.__path__)} - {"patch"}
    tables = {id(table) for table in moto_patches.TABLES}
    for name in modules:
        module = __import__(f"{moto_patches.__name__}.{name}", fromlist=["PATCHES"])
        assert id(module.PATCHES) in tables, f"{name}.PATCHES is not in moto_patches.TABLES"
        assert len((module.__doc__ or "").split()) > 20, f"{name} does not say why moto needs it"
    descriptions = [patch.description for table in moto_patches.TABLES for patch in table]
    assert len(set(descriptions)) == len(descriptions)
    assert all(description and "\n" not in description for description in descriptions)
    assert moto_patches.apply() == descriptions


def test_every_patch_names_its_guard_test_and_the_local_aws_page_lists_each_patch() -> None:
    """Each patch names the test that fails without it, and docs/local-target.md's table lists
    every patched attribute with that test."""
    import ast

    page = (CHECKOUT / "docs" / "local-target.md").read_text()
    tests: dict[str, set[str]] = {}
    for patch in (patch for table in moto_patches.TABLES for patch in table):
        path, _, name = patch.guard.partition("::")
        assert path.startswith("tests/local/test_") and name.startswith("test_"), patch.name
        if path not in tests:
            tree = ast.parse((CHECKOUT / path).read_text())
            tests[path] = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert name in tests[path], f"{patch.name}: {patch.guard} does not exist"
        row = next((line for line in page.splitlines() if f"`{patch.attribute}`" in line and name in line), None)
        assert row is not None, f"docs/local-target.md has no row for {patch.name} guarded by {name}"


def test_change_set_stacks_get_outputs_and_exports_and_can_import(local_settings: Settings) -> None:
    cfn = aws.client("cloudformation", local_settings)
    _deploy(cfn, "Producer", _queue_stack("produced", export="ProducedQueue"))
    assert _outputs(cfn, "Producer") == {"QueueName": "produced", "Extra": "one"}
    exports = {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}
    assert exports["ProducedQueue"] == "produced"

    consumer = {
        "Resources": {
            "Follower": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": {"Fn::Join": ["-", [{"Fn::ImportValue": "ProducedQueue"}, "follower"]]}},
            }
        },
        "Outputs": {"Imported": {"Value": {"Fn::ImportValue": "ProducedQueue"}}},
    }
    _deploy(cfn, "Consumer", json.dumps(consumer))
    assert _outputs(cfn, "Consumer") == {"Imported": "produced"}
    queues = aws.client("sqs", local_settings).list_queues()["QueueUrls"]
    assert sorted(url.rsplit("/", 1)[1] for url in queues) == ["produced", "produced-follower"]


def test_an_update_through_a_change_set_refreshes_outputs_and_exports(local_settings: Settings) -> None:
    cfn = aws.client("cloudformation", local_settings)
    _deploy(cfn, "Producer", _queue_stack("produced", export="ProducedQueue"))
    _deploy(cfn, "Producer", _queue_stack("produced", export="RenamedExport", extra_output="two"), kind="UPDATE")
    assert _outputs(cfn, "Producer") == {"QueueName": "produced", "Extra": "two"}
    names = {e["Name"] for e in cfn.list_exports()["Exports"]}
    assert "RenamedExport" in names and "ProducedQueue" not in names


def test_change_sets_of_the_same_name_in_two_stacks_do_not_collide(local_settings: Settings) -> None:
    cfn = aws.client("cloudformation", local_settings)
    name = "cdk-deploy-change-set"
    for stack in ("First", "Second"):
        cfn.create_change_set(
            StackName=stack, ChangeSetName=name, TemplateBody=_queue_stack(stack.lower(), None), ChangeSetType="CREATE"
        )
    assert cfn.describe_change_set(StackName="Second", ChangeSetName=name)["StackName"] == "Second"
    assert cfn.describe_change_set(StackName="First", ChangeSetName=name)["StackName"] == "First"

    cfn.execute_change_set(StackName="Second", ChangeSetName=name)
    assert _outputs(cfn, "Second")["QueueName"] == "second"
    assert cfn.describe_change_set(StackName="First", ChangeSetName=name)["ExecutionStatus"] == "AVAILABLE"
    with pytest.raises(ClientError) as caught:  # an executed change set is gone, as in CloudFormation
        cfn.describe_change_set(StackName="Second", ChangeSetName=name)
    assert caught.value.response["Error"]["Code"] == "ChangeSetNotFound"

    cfn.delete_change_set(StackName="First", ChangeSetName=name)
    with pytest.raises(ClientError):
        cfn.describe_change_set(StackName="First", ChangeSetName=name)
    assert _outputs(cfn, "Second")["QueueName"] == "second"


def test_export_clashes_and_exports_in_use_are_refused(local_settings: Settings) -> None:
    cfn = aws.client("cloudformation", local_settings)
    _deploy(cfn, "Producer", _queue_stack("produced", export="Shared"))
    with pytest.raises(ClientError, match="Export with name Shared is already exported by stack"):
        _deploy(cfn, "Rival", _queue_stack("rival", export="Shared"))

    importer = {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "importer"}}},
        "Outputs": {"Seen": {"Value": {"Fn::ImportValue": "Shared"}}},
    }
    _deploy(cfn, "Importer", json.dumps(importer))
    with pytest.raises(ClientError, match="Cannot delete export Shared as it is in use by Importer"):
        _deploy(cfn, "Producer", _queue_stack("produced", export=None, extra_output="two"), kind="UPDATE")
    with pytest.raises(ClientError, match="Export Shared cannot be deleted as it is in use by Importer"):
        cfn.delete_stack(StackName="Producer")
    assert _outputs(cfn, "Producer") == {"QueueName": "produced", "Extra": "one"}

    cfn.delete_stack(StackName="Importer")
    cfn.delete_stack(StackName="Producer")  # in reverse order it works
    # The refused stack never got past review, as a failed first change set leaves it.
    assert {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]} == {
        "Rival": "REVIEW_IN_PROGRESS"
    }
    assert all(e["Name"] != "Shared" for e in cfn.list_exports()["Exports"])


def test_a_missing_change_set_is_not_found_and_deleting_it_succeeds(local_settings: Settings) -> None:
    cfn = aws.client("cloudformation", local_settings)
    _deploy(cfn, "Only", _queue_stack("only", export=None))
    cfn.delete_change_set(StackName="Only", ChangeSetName="never-made")  # no error, as in CloudFormation
    with pytest.raises(ClientError) as caught:
        cfn.describe_change_set(StackName="Only", ChangeSetName="never-made")
    assert caught.value.response["Error"]["Code"] == "ChangeSetNotFound"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_describing_a_deleted_stack_does_not_bring_its_resources_back(local_settings: Settings) -> None:
    cfn = aws.client("cloudformation", local_settings)
    sqs = aws.client("sqs", local_settings)
    _deploy(cfn, "Doomed", _queue_stack("doomed", export="DoomedQueue"))
    stack_id = cfn.describe_stacks(StackName="Doomed")["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName=stack_id)
    described = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert described["StackStatus"] == "DELETE_COMPLETE"
    cfn.list_stack_resources(StackName=stack_id)
    cfn.describe_stack_resources(StackName=stack_id)
    assert "QueueUrls" not in sqs.list_queues()
    assert all(e["Name"] != "DoomedQueue" for e in cfn.list_exports()["Exports"])


def test_secrets_queue_policies_and_egress_rules_are_created_and_deleted(local_settings: Settings) -> None:
    cfn = aws.client("cloudformation", local_settings)
    template = {
        "Resources": {
            "Given": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "given", "SecretString": "v1"}},
            "Generated": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {
                    "Name": "generated",
                    "GenerateSecretString": {
                        "SecretStringTemplate": '{"client_id": "abc"}',
                        "GenerateStringKey": "client_secret",
                        "PasswordLength": 24,
                        "ExcludePunctuation": True,
                    },
                },
            },
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "guarded"}},
            "Policy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "Queues": [{"Ref": "Queue"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Deny",
                                "Principal": {"AWS": "*"},
                                "Action": "sqs:*",
                                "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ],
                    },
                },
            },
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16"}},
            "Group": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {"GroupDescription": "g", "VpcId": {"Ref": "Vpc"}},
            },
            "Egress": {
                "Type": "AWS::EC2::SecurityGroupEgress",
                "Properties": {
                    "GroupId": {"Fn::GetAtt": ["Group", "GroupId"]},
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "CidrIp": "10.9.0.0/16",
                },
            },
        },
        "Outputs": {"GivenArn": {"Value": {"Ref": "Given"}}},
    }
    _deploy(cfn, "Mixed", json.dumps(template))

    secrets = aws.client("secretsmanager", local_settings)
    assert re.fullmatch(
        r"arn:aws:secretsmanager:us-east-1:\d{12}:secret:given-\w{6}", _outputs(cfn, "Mixed")["GivenArn"]
    )
    assert secrets.get_secret_value(SecretId="given")["SecretString"] == "v1"
    generated = json.loads(secrets.get_secret_value(SecretId="generated")["SecretString"])
    assert generated["client_id"] == "abc"
    assert re.fullmatch(r"[A-Za-z0-9]{24}", generated["client_secret"])

    sqs = aws.client("sqs", local_settings)
    url = sqs.get_queue_url(QueueName="guarded")["QueueUrl"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    ec2 = aws.client("ec2", local_settings)
    group_id = cfn.describe_stack_resource(StackName="Mixed", LogicalResourceId="Group")["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    egress = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissionsEgress"]
    assert {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443} in [
        {k: rule.get(k) for k in ("IpProtocol", "FromPort", "ToPort")} for rule in egress
    ]

    # An update that keeps the name keeps the secret: same ARN, same generated value.
    arns = {name: secrets.describe_secret(SecretId=name)["ARN"] for name in ("given", "generated")}
    template["Resources"]["Generated"]["Properties"]["Description"] = "now described"
    template["Resources"]["Given"]["Properties"]["SecretString"] = "v2"
    _deploy(cfn, "Mixed", json.dumps(template), kind="UPDATE")
    assert {name: secrets.describe_secret(SecretId=name)["ARN"] for name in arns} == arns
    assert secrets.describe_secret(SecretId="generated")["Description"] == "now described"
    assert json.loads(secrets.get_secret_value(SecretId="generated")["SecretString"]) == generated
    assert secrets.get_secret_value(SecretId="given")["SecretString"] == "v2"

    cfn.delete_stack(StackName="Mixed")
    assert secrets.list_secrets()["SecretList"] == []
    assert "QueueUrls" not in sqs.list_queues()


def test_fixes_are_applied_once() -> None:
    from moto.cloudformation.models import CloudFormationBackend

    first = moto_patches.apply()
    wrapped = CloudFormationBackend.execute_change_set
    assert moto_patches.apply() == first
    assert CloudFormationBackend.execute_change_set is wrapped
    assert len(first) == len(set(first))


def test_a_partner_bus_routes_its_events_by_its_full_name(local_settings: Settings) -> None:
    events, sqs = aws.client("events", local_settings), aws.client("sqs", local_settings)
    name = "aws.partner/buywithprime/routing"
    events.create_partner_event_source(Name=name, Account=aws.LOCAL_ACCOUNT_ID)
    bus_arn = events.create_event_bus(Name=name, EventSourceName=name)["EventBusArn"]
    queue_url = sqs.create_queue(QueueName="partner-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName=bus_arn, EventPattern=json.dumps({"source": [{"prefix": "aws.partner/"}]}))
    events.put_targets(Rule="all", EventBusName=name, Targets=[{"Id": "q", "Arn": queue_arn}])
    assert [rule["Name"] for rule in events.list_rules(EventBusName=name)["Rules"]] == ["all"]
    answer = events.put_events(Entries=[{"Source": name, "DetailType": "T", "Detail": "{}", "EventBusName": name}])
    assert answer["FailedEntryCount"] == 0
    received = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"]
    assert json.loads(received[0]["Body"])["id"] == answer["Entries"][0]["EventId"]
    with pytest.raises(ClientError, match="does not exist"):  # the last segment alone is another bus
        events.put_rule(Name="none", EventBusName="routing", EventPattern=json.dumps({"source": ["x"]}))


def test_a_bus_of_the_stack_carries_rules_and_a_bus_policy(local_settings: Settings) -> None:
    """EventStack's test bus on the local AWS: a rule on a bus of the same stack (Ref gives the
    bus's name), the queue policy naming that rule, and the bus's policy statement."""
    deny = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "events:PutEvents"}
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "test-events"}},
            "Rule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventBusName": {"Ref": "Bus"},
                    "EventPattern": {"source": ["x"]},
                    "Targets": [{"Id": "q", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}],
                },
            },
            "QueuePolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "Queues": [{"Ref": "Queue"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "OnlyTheRule",
                                **{**deny, "Action": "sqs:SendMessage"},
                                "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                                "Condition": {"ArnNotEquals": {"aws:SourceArn": [{"Fn::GetAtt": ["Rule", "Arn"]}]}},
                            }
                        ],
                    },
                },
            },
            "BusPolicy": {
                "Type": "AWS::Events::EventBusPolicy",
                "Properties": {
                    "EventBusName": {"Ref": "Bus"},
                    "StatementId": "OnlyTheOperator",
                    "Statement": {**deny, "Resource": {"Fn::GetAtt": ["Bus", "Arn"]}},
                },
            },
        },
        "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}, "Bus": {"Value": {"Ref": "Bus"}}},
    }
    cfn = aws.client("cloudformation", local_settings)
    cfn.create_stack(StackName="test-bus", TemplateBody=json.dumps(template))
    (stack,) = cfn.describe_stacks(StackName="test-bus")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["Bus"] == "test-events"
    events = aws.client("events", local_settings)
    assert [rule["EventBusName"] for rule in events.list_rules(EventBusName="test-events")["Rules"]] == ["test-events"]
    (statement,) = json.loads(events.describe_event_bus(Name="test-events")["Policy"])["Statement"]
    assert (statement["Sid"], statement["Effect"], statement["Action"]) == (
        "OnlyTheOperator",
        "Deny",
        "events:PutEvents",
    )
    attributes = aws.client("sqs", local_settings).get_queue_attributes(
        QueueUrl=outputs["QueueUrl"], AttributeNames=["Policy"]
    )["Attributes"]
    assert '"Sid": "OnlyTheRule"' in attributes["Policy"]
    cfn.delete_stack(StackName="test-bus")
    with pytest.raises(ClientError):
        events.describe_event_bus(Name="test-events")
