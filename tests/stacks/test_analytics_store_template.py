"""EventStack's analytics store, property by property: the bucket (encrypted, private, TLS only,
versioned, lifecycle), the Glue table (the columns and partitions of core.analytics_record), the
Athena workgroup and its limit, and the handler's one grant on the bucket."""

from __future__ import annotations

import json

from bwp_workshop import names
from bwp_workshop.core.analytics_record import COLUMNS, DATE_FORMAT_JAVA, PARTITIONS
from bwp_workshop.stacks.analytics_store import BYTES_SCANNED_CUTOFF

from .conftest import Synthesized, only, policy_actions, resources


def _buckets(synthesized: Synthesized) -> dict[str, dict]:
    return resources(synthesized, names.EVENT_STACK, "AWS::S3::Bucket")


def _bucket_policies(synthesized: Synthesized) -> list[dict]:
    return [p["Properties"] for p in resources(synthesized, names.EVENT_STACK, "AWS::S3::BucketPolicy").values()]


def test_both_buckets_are_encrypted_private_versioned_and_tls_only(synthesized: Synthesized) -> None:
    buckets = _buckets(synthesized)
    assert {key.split("Bucket")[0] for key in buckets} == {"Analytics", "AnalyticsResults"}
    for logical_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["BucketEncryption"] == {
            "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        }
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        assert properties["LifecycleConfiguration"]["Rules"], logical_id
        # TLS only: a Deny of every s3 action when aws:SecureTransport is false.
        (policy,) = [p for p in _bucket_policies(synthesized) if p["Bucket"] == {"Ref": logical_id}]
        denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(
            s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Action"] == "s3:*" for s in denies
        )


def test_old_versions_and_results_expire(synthesized: Synthesized) -> None:
    buckets = _buckets(synthesized)
    events = next(b for k, b in buckets.items() if not k.startswith("AnalyticsResults"))["Properties"]
    results = next(b for k, b in buckets.items() if k.startswith("AnalyticsResults"))["Properties"]
    rules = events["LifecycleConfiguration"]["Rules"]
    assert any(r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") == 7 for r in rules)
    assert any(r.get("AbortIncompleteMultipartUpload") for r in rules)
    assert any(r.get("Transitions") and r["Prefix"] == names.ANALYTICS_PREFIX for r in rules)
    (result_rule,) = results["LifecycleConfiguration"]["Rules"]
    assert result_rule["ExpirationInDays"] == 7


def test_the_glue_table_declares_the_records_columns_and_partitions(synthesized: Synthesized) -> None:
    database = only(synthesized, names.EVENT_STACK, "AWS::Glue::Database")["Properties"]
    assert database["DatabaseInput"]["Name"] == names.GLUE_DATABASE
    table = only(synthesized, names.EVENT_STACK, "AWS::Glue::Table")["Properties"]
    assert table["DatabaseName"] == names.GLUE_DATABASE
    described = table["TableInput"]
    assert described["Name"] == names.GLUE_TABLE
    descriptor = described["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [(name, kind) for name, _, kind in COLUMNS]
    assert [k["Name"] for k in described["PartitionKeys"]] == list(PARTITIONS)
    assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    location = json.dumps(descriptor["Location"])
    assert "AnalyticsBucket" in location and names.ANALYTICS_PREFIX in location
    parameters = described["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.event_date.format"] == DATE_FORMAT_JAVA
    assert set(parameters["projection.event_type.values"].split(",")) >= set(names.EVENT_TYPES)
    template = json.dumps(parameters["storage.location.template"])
    assert "event_date=${event_date}/event_type=${event_type}/" in template


def test_the_workgroup_limits_each_query_and_writes_to_its_own_results_bucket(synthesized: Synthesized) -> None:
    workgroup = only(synthesized, names.EVENT_STACK, "AWS::Athena::WorkGroup")["Properties"]
    assert workgroup["Name"] == names.ATHENA_WORKGROUP
    configuration = workgroup["WorkGroupConfiguration"]
    assert configuration["BytesScannedCutoffPerQuery"] == BYTES_SCANNED_CUTOFF == 1024**3
    assert configuration["EnforceWorkGroupConfiguration"] is True
    results = configuration["ResultConfiguration"]
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert "AnalyticsResultsBucket" in json.dumps(results["OutputLocation"])


def test_the_handler_may_only_add_objects_under_the_events_prefix(synthesized: Synthesized) -> None:
    s3_grants = [
        (actions, resource)
        for actions, resource in policy_actions(synthesized, names.EVENT_STACK, "HandlerRole")
        if any(a.startswith("s3:") for a in actions)
    ]
    assert len(s3_grants) == 1
    actions, resource = s3_grants[0]
    assert actions == set(names.HANDLER_ANALYTICS_ACTIONS) == {"s3:PutObject"}
    assert "AnalyticsBucket" in resource and f"/{names.ANALYTICS_PREFIX}*" in resource


def test_the_handler_is_told_the_bucket(synthesized: Synthesized) -> None:
    function = only(synthesized, names.EVENT_STACK, "AWS::Lambda::Function")["Properties"]
    bucket = function["Environment"]["Variables"][names.ENV_ANALYTICS_BUCKET]
    assert bucket["Ref"].startswith("AnalyticsBucket")
    outputs = synthesized.raw[names.EVENT_STACK]["Outputs"]
    assert outputs[names.OUT_ANALYTICS_BUCKET]["Value"] == bucket
