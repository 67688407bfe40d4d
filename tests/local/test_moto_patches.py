"""Each fix in bwp_workshop.local.moto_patches, checked through a real patched moto server.

If moto changes under a fix, one of these fails and names the fix."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import moto
import pytest
from botocore.exceptions import ClientError

from bwp_workshop import aws
from bwp_workshop.errors import MotoPatchError
from bwp_workshop.local import moto_patches
from bwp_workshop.settings import Settings
from tests.conftest import REPO_ROOT


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
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
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


def test_receiving_checks_the_retention_period_without_reading_every_queue_attribute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moto_patches.apply()
    from moto.sqs import models as sqs_models

    backend = sqs_models.sqs_backends["123456789012"]["us-east-1"]
    queue = backend.create_queue("retention-check", MessageRetentionPeriod="60")
    try:
        message = backend.send_message("retention-check", "hello")
        reads: list[int] = []
        counted = property(lambda self: reads.append(1) or sqs_models.Queue.attributes.fget(self))
        monkeypatch.setattr(sqs_models.Queue, "attributes", counted)
        assert backend.is_message_valid_based_on_retention_period("retention-check", message)
        message.sent_timestamp -= 61_000  # older than the retention period: dropped, as before
        assert not backend.is_message_valid_based_on_retention_period("retention-check", message)
        assert reads == []  # the queue's attributes (three of them scan the queue) were not computed
        assert queue.name == "retention-check"
    finally:
        backend.delete_queue("retention-check")


def test_sending_to_a_standard_queue_reads_no_queue_attribute_and_fifo_queues_still_deduplicate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moto_patches.apply()
    from moto.sqs import models as sqs_models

    backend = sqs_models.sqs_backends["123456789012"]["us-east-1"]
    backend.create_queue("send-check", DelaySeconds="0")
    backend.create_queue("send-check.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    try:
        reads: list[int] = []
        original = sqs_models.Queue.attributes.fget
        monkeypatch.setattr(sqs_models.Queue, "attributes", property(lambda self: reads.append(1) or original(self)))
        sent = [backend.send_message("send-check", f"m{i}", delay_seconds=None) for i in range(5)]
        late = backend.send_message(
            "send-check",
            "later",
            delay_seconds=30,
            message_attributes={"a": {"DataType": "String", "StringValue": "1"}},
        )
        assert reads == []  # no attribute computed (three of them scan the queue)
        assert len({m.id for m in sent}) == 5 and all(m.body.startswith("m") for m in sent)
        assert late.delayed and late.message_attributes == {"a": {"DataType": "String", "StringValue": "1"}}
        queue = backend.get_queue("send-check")
        assert [m.body for m in queue.messages] == [f"m{i}" for i in range(5)]
        with pytest.raises(sqs_models.InvalidParameterValue, match="DelaySeconds"):
            backend.send_message("send-check", "x", delay_seconds=901)
        # FIFO: moto's own path, content-based deduplication as before.
        first = backend.send_message("send-check.fifo", "same", group_id="g")
        second = backend.send_message("send-check.fifo", "same", group_id="g")
        assert first.deduplication_id == second.deduplication_id
        assert len(backend.get_queue("send-check.fifo").messages) == 1
    finally:
        backend.delete_queue("send-check")
        backend.delete_queue("send-check.fifo")


def test_eventbridge_compiles_each_template_path_once(local_settings: Settings) -> None:
    """Through the server: events reach the queue as before (body = the event), and in this
    process the cached JSONPath compiler answers repeated expressions from its cache."""
    import jsonpath_ng.ext

    moto_patches.apply()
    assert jsonpath_ng.ext.parse("$.detail") is jsonpath_ng.ext.parse("$.detail")
    events, sqs = aws.client("events", local_settings), aws.client("sqs", local_settings)
    url = sqs.create_queue(QueueName="template-check")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="all", Targets=[{"Id": "q", "Arn": arn}])
    entries = [{"Source": "shop", "DetailType": "order", "Detail": json.dumps({"n": i})} for i in range(12)]
    events.put_events(Entries=entries[:10])
    events.put_events(Entries=entries[10:])
    bodies: list[dict[str, Any]] = []
    while len(bodies) < 12:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        assert got, bodies
        bodies += [json.loads(m["Body"]) for m in got]
    assert sorted(b["detail"]["n"] for b in bodies) == list(range(12))
    assert {(b["source"], b["detail-type"]) for b in bodies} == {("shop", "order")}


# --- SQS under the queue's lock: forced interleavings ------------------------------------------


class _WatchedLock:
    """A re-entrant lock that tells, per thread name, when a thread has to wait for it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.settled: dict[str, threading.Event] = {}

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(blocking=False):
            return True
        if not blocking:
            return False
        event = self.settled.get(threading.current_thread().name)
        if event is not None:
            event.set()  # this thread now waits for the lock
        return self._lock.acquire(True, timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _is_owned(self) -> bool:
        return self._lock._is_owned()  # type: ignore[attr-defined]

    def _release_save(self) -> Any:
        return self._lock._release_save()  # type: ignore[attr-defined]

    def _acquire_restore(self, state: Any) -> None:
        self._lock._acquire_restore(state)  # type: ignore[attr-defined]


def _interleave(monkeypatch: pytest.MonkeyPatch, queue: Any, target: Any, delete: Any, rounds: list[list[Any]]) -> None:
    """Run ``delete`` (of ``target``, the last message of ``queue``) in a thread that pauses
    each time it recognises ``target``; at each pause run the next round's operations, each
    in its own thread, until each has finished or waits for the queue's lock; then let the
    delete go on. Rounds left when the delete ends run after it. Every thread is joined."""
    from moto.sqs import models as sqs_models

    lock = _WatchedLock()
    queue._messages_lock = threading.Condition(lock)  # type: ignore[arg-type]
    paused, resume = threading.Event(), threading.Event()
    original = sqs_models.Message.had_receipt_handle

    def had_receipt_handle(self: Any, receipt_handle: str) -> bool:
        found = original(self, receipt_handle)
        if found and self is target and threading.current_thread().name == "deleter":
            paused.set()
            assert resume.wait(10), "the test never resumed the delete"
            resume.clear()
        return found

    monkeypatch.setattr(sqs_models.Message, "had_receipt_handle", had_receipt_handle)
    errors: list[BaseException] = []

    def start(name: str, operation: Any) -> threading.Thread:
        lock.settled[name] = settled = threading.Event()

        def run() -> None:
            try:
                operation()
            except BaseException as exc:  # reported by the test below
                errors.append(exc)
            finally:
                settled.set()

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    deleter = start("deleter", delete)
    others: list[threading.Thread] = []
    pending = list(rounds)
    while deleter.is_alive():
        if not paused.wait(0.05):
            continue
        paused.clear()
        for number, operation in enumerate(pending.pop(0) if pending else []):
            others.append(start(f"other-{len(others)}-{number}", operation))
            assert lock.settled[others[-1].name].wait(10)  # finished, or waiting for the lock
        resume.set()
    for operations in pending:
        for number, operation in enumerate(operations):
            others.append(start(f"late-{len(others)}-{number}", operation))
    for thread in [deleter, *others]:
        thread.join(10)
        assert not thread.is_alive()
    assert not errors, errors


def test_overlapping_deletes_and_sends_lose_nothing_and_bring_nothing_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The forced interleaving that lost messages: while one delete is under way, another
    delete and a send land. moto's delete wrote back the list it had read, so the sent
    message vanished and the other deleted message came back."""
    moto_patches.apply()
    from moto.sqs import models as sqs_models

    backend = sqs_models.sqs_backends["123456789012"]["us-east-1"]
    queue = backend.create_queue("interleave-delete")
    try:
        first, second, target = (backend.send_message("interleave-delete", body) for body in ("a", "b", "target"))
        for message in (first, second, target):
            message.mark_received(visibility_timeout=30)
        _interleave(
            monkeypatch,
            queue,
            target,
            lambda: backend.delete_message("interleave-delete", target.receipt_handle),
            [
                [
                    lambda: backend.delete_message("interleave-delete", first.receipt_handle),
                    lambda: backend.send_message("interleave-delete", "new-1"),
                ],
                [
                    lambda: backend.delete_message("interleave-delete", second.receipt_handle),
                    lambda: backend.send_message("interleave-delete", "new-2"),
                ],
            ],
        )
        assert sorted(m.body for m in queue._messages) == ["new-1", "new-2"]
    finally:
        backend.delete_queue("interleave-delete")


def test_a_dead_letter_move_during_a_delete_is_not_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A receive that moves a message to the dead-letter queue while a delete is under way:
    moto's delete wrote the moved message back, so it sat in both queues."""
    moto_patches.apply()
    from moto.sqs import models as sqs_models

    backend = sqs_models.sqs_backends["123456789012"]["us-east-1"]
    dlq = backend.create_queue("interleave-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq.queue_arn, "maxReceiveCount": 1})
    queue = backend.create_queue("interleave-source", RedrivePolicy=redrive)
    try:
        first, second, target = (backend.send_message("interleave-source", body) for body in ("x1", "x2", "target"))
        target.mark_received(visibility_timeout=30)
        for message in (first, second):  # in flight until their round makes them due for the DLQ
            message.change_visibility(30)

        def dead_letter(message: Any) -> Any:
            def operation() -> None:
                message.approximate_receive_count = 1
                message.visible_at = 0
                backend.receive_message("interleave-source", 10, 0, 30)

            return operation

        _interleave(
            monkeypatch,
            queue,
            target,
            lambda: backend.delete_message("interleave-source", target.receipt_handle),
            [[dead_letter(first)], [dead_letter(second)]],
        )
        assert queue._messages == []
        assert sorted(m.body for m in dlq._messages) == ["x1", "x2"]
    finally:
        backend.delete_queue("interleave-source")
        backend.delete_queue("interleave-dlq")


def test_two_receives_never_hand_out_the_same_message() -> None:
    moto_patches.apply()
    from moto.sqs import models as sqs_models

    backend = sqs_models.sqs_backends["123456789012"]["us-east-1"]
    backend.create_queue("receive-once")
    try:
        for n in range(200):
            backend.send_message("receive-once", f"m{n}")
        got: list[str] = []

        def consume() -> None:
            while batch := backend.receive_message("receive-once", 10, 0, 30):
                got.extend(m.body for m in batch)

        threads = [threading.Thread(target=consume) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(got) == sorted(f"m{n}" for n in range(200))
    finally:
        backend.delete_queue("receive-once")


def test_dynamodb_items_and_sqs_messages_are_not_recorded_but_s3_keys_are(local_settings: Settings) -> None:
    """Through the server: a scan and receives leave nothing in moto's instance lists for
    items and messages (each scan used to keep a copy of every item); in this process the
    classes no longer record new objects, while S3 keys still are (S3's reset needs them)."""
    moto_patches.apply()
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.s3.models import FakeKey
    from moto.sqs.models import Message

    Item.instances_tracked.clear()
    Message.instances_tracked.clear()
    Item(DynamoType({"S": "k"}), None, {"k": {"S": "k"}})
    Message("id", "body")
    assert Item.instances_tracked == [] and Message.instances_tracked == []
    before = len(FakeKey.instances_tracked)
    key = FakeKey("k", b"v", "123456789012", "us-east-1")
    assert FakeKey.instances_tracked[before:] == [key]
    key.dispose()
    FakeKey.instances_tracked.remove(key)

    # The same through the server, as the event pipeline uses it.
    dynamodb, sqs = aws.client("dynamodb", local_settings), aws.client("sqs", local_settings)
    dynamodb.create_table(
        TableName="tracked",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(20):
        dynamodb.put_item(TableName="tracked", Item={"k": {"S": str(n)}})
    assert dynamodb.scan(TableName="tracked")["Count"] == 20
    url = sqs.create_queue(QueueName="tracked")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(10)])
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 10
    data = _get_json(local_settings, "/moto-api/data.json")
    assert data["dynamodb"].get("Item", []) == []
    assert data["sqs"].get("Message", []) == []


def _get_json(settings: Settings, path: str) -> Any:
    import httpx

    return httpx.get(f"{settings.local_aws_endpoint}{path}", timeout=30).json()


def test_the_service_of_a_request_is_looked_up_once_per_host(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_patches.apply()
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    listings: list[int] = []
    original = backends.list_of_moto_modules
    monkeypatch.setattr(backends, "list_of_moto_modules", lambda: listings.append(1) or original())
    app = DomainDispatcherApplication(create_backend_app)
    host = "sqs.eu-west-3.amazonaws.com"
    assert app.get_backend_for_host(host) == "sqs"
    assert app.get_backend_for_host(host) == "sqs"
    assert len(listings) <= 1  # the second lookup listed nothing
    assert app.get_backend_for_host("dynamodb") == "dynamodb"

    import inspect

    from moto.core import responses as core_responses
    from moto.sqs.responses import SQSResponse

    listed: list[int] = []
    original_getmembers = inspect.getmembers
    monkeypatch.setattr(inspect, "getmembers", lambda *a, **k: listed.append(1) or original_getmembers(*a, **k))
    first = core_responses.method_names_from_class(SQSResponse)
    assert "receive_message" in first and core_responses.method_names_from_class(SQSResponse) == first
    assert len(listed) <= 1  # listed once per class


# --- DynamoDB conditional writes, one at a time: a forced race through a real server ----------


class _CountingLock:
    """A re-entrant lock that counts the threads that had to wait for it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.waiting = 0
        self.changed = threading.Condition()

    def __enter__(self) -> _CountingLock:
        if not self._lock.acquire(blocking=False):
            with self.changed:
                self.waiting += 1
                self.changed.notify_all()
            self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


@pytest.fixture
def in_process_moto() -> Any:
    """A real patched moto server (HTTP, werkzeug, one thread per request) in this process, so
    a test can reach its backends; stopped at the end."""
    from moto.server import ThreadedMotoServer

    moto_patches.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _dynamodb(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="eu-west-3",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _claim(kind: str, table: str, claimer: str) -> dict[str, Any]:
    """A request that takes the item ``lease`` for ``claimer`` if nobody holds it yet."""
    if kind == "PutItem":
        return {
            "TableName": table,
            "Item": {"pk": {"S": "lease"}, "owner": {"S": claimer}},
            "ConditionExpression": "attribute_not_exists(#owner)",
            "ExpressionAttributeNames": {"#owner": "owner"},
        }
    update = {
        "TableName": table,
        "Key": {"pk": {"S": "lease"}},
        "UpdateExpression": "SET #owner = :me",
        "ConditionExpression": "attribute_not_exists(#owner)",
        "ExpressionAttributeNames": {"#owner": "owner"},
        "ExpressionAttributeValues": {":me": {"S": claimer}},
    }
    if kind == "UpdateItem":
        return update
    return {"TransactItems": [{"Update": update}]}


# The condition evaluations of one claim before it writes: moto checks a transaction's
# condition twice, in the transaction and again in the write it makes.
@pytest.mark.parametrize(("kind", "checks"), [("UpdateItem", 1), ("PutItem", 1), ("TransactWriteItems", 2)])
def test_concurrent_conditional_writes_have_exactly_one_winner(
    in_process_moto: str, monkeypatch: pytest.MonkeyPatch, kind: str, checks: int
) -> None:
    """The first claim is held between its last condition check and its write while six other
    claims run, each until it has finished or waits for the table's writes. moto without the
    lock let one of them pass its condition and write too: two winners (the token store's
    lease won twice). With the lock they wait, and each fails its condition after the write."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb import comparisons
    from moto.dynamodb.models import dynamodb_backends

    from bwp_workshop.local.moto_patches import dynamodb as dynamodb_patches

    table = f"race-{kind.lower()}"
    client = _dynamodb(in_process_moto)
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-3"]
    lock = _CountingLock()
    monkeypatch.setitem(backend.__dict__, dynamodb_patches.LOCK_ATTRIBUTE, lock)

    held, release = threading.Event(), threading.Event()
    passed: list[int] = []
    original_parse = comparisons.ConditionExpressionParser.parse

    def parse(parser: Any) -> Any:
        op = original_parse(parser)
        if parser.expression_attribute_names != {"#owner": "owner"}:
            return op  # not a claim
        original_expr = op.expr

        def expr(item: Any) -> bool:
            result = bool(original_expr(item))
            if result and not held.is_set():  # the first claim: alone until it is held
                passed.append(1)
                if len(passed) == checks:  # its last check: hold it here, before its write
                    held.set()
                    assert release.wait(30), "the test never released the first claim"
            return result

        op.expr = expr
        return op

    monkeypatch.setattr(comparisons.ConditionExpressionParser, "parse", parse)

    won: list[str] = []
    lost: list[str] = []

    def claim(claimer: str) -> None:
        call = {"PutItem": "put_item", "UpdateItem": "update_item"}.get(kind, "transact_write_items")
        try:
            getattr(_dynamodb(in_process_moto), call)(**_claim(kind, table, claimer))
            won.append(claimer)
        except ClientError as error:
            assert error.response["Error"]["Code"] in {
                "ConditionalCheckFailedException",
                "TransactionCanceledException",
            }
            lost.append(claimer)
        finally:
            with lock.changed:
                lock.changed.notify_all()

    first = threading.Thread(target=claim, args=("first",))
    first.start()
    assert held.wait(30), "the first claim never passed its condition"
    others = [threading.Thread(target=claim, args=(f"other-{n}",)) for n in range(6)]
    for thread in others:
        thread.start()
    with lock.changed:  # each other claim has finished, or waits for the lock the first one holds
        assert lock.changed.wait_for(lambda: len(won) + len(lost) + lock.waiting >= len(others), timeout=30)
    release.set()
    for thread in [first, *others]:
        thread.join(30)
        assert not thread.is_alive()
    assert len(won) + len(lost) == 7
    assert won == ["first"], f"{len(won)} claims won the lease: {won}"
    owner = client.get_item(TableName=table, Key={"pk": {"S": "lease"}}, ConsistentRead=True)["Item"]["owner"]
    assert owner == {"S": "first"}
    client.delete_table(TableName=table)
