"""The analytics store (a construct of EventStack): the bucket the event handler writes each
batch's Parquet objects to, the Glue database and table over them (partitioned by event date and
type, Hive-style, with partition projection so no crawler or ``MSCK REPAIR`` is needed), and the
Athena workgroup that answers the analytics SQL, with a bytes-scanned limit per query and its own
results bucket. The columns and partitions are :mod:`bwp_workshop.core.analytics_record`'s."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .. import names
from ..core.analytics_record import COLUMNS, DATE_FORMAT_JAVA, PARTITIONS
from .nag import acknowledge

#: A query scanning more than this is cancelled by the workgroup (Athena bills scanned bytes).
BYTES_SCANNED_CUTOFF = 1024**3
#: Days a replaced or deleted object version is kept (a merchant's deleted data is gone after this
#: at the latest; the clean-up and the merchant deletion remove versions at once).
NONCURRENT_VERSION_DAYS = 7
#: Days Athena's query results are kept.
RESULTS_DAYS = 7
#: The first day partition projection offers (earlier days are never asked).
PROJECTION_START = "2024-01-01"


def _bucket(scope: Construct, id_: str, *, lifecycle_rules: list[s3.LifecycleRule]) -> s3.Bucket:
    """A private bucket: S3-managed encryption, public access blocked, TLS only, versioned,
    objects owned by the bucket owner (no ACLs)."""
    return s3.Bucket(
        scope,
        id_,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=lifecycle_rules,
        # Notebook 99 empties both buckets (every version) before the stack is destroyed.
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )


class AnalyticsStore(Construct):
    """The bucket, the Glue database and table, the Athena workgroup and its results bucket."""

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
        stack = cdk.Stack.of(self)
        cleanup = s3.LifecycleRule(
            id="old-versions-and-uploads",
            noncurrent_version_expiration=cdk.Duration.days(NONCURRENT_VERSION_DAYS),
            abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
            expired_object_delete_marker=True,
        )
        self.bucket = _bucket(
            self,
            "Bucket",
            lifecycle_rules=[
                cleanup,
                s3.LifecycleRule(
                    id="older-events-infrequent-access",
                    prefix=names.ANALYTICS_PREFIX,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=cdk.Duration.days(90)
                        )
                    ],
                ),
            ],
        )
        self.results_bucket = _bucket(
            self,
            "ResultsBucket",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-results",
                    expiration=cdk.Duration.days(RESULTS_DAYS),
                    noncurrent_version_expiration=cdk.Duration.days(1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
        )

        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=names.GLUE_DATABASE, description="SupaDupa Analytics: Buy with Prime events as Parquet"
            ),
        )
        location = f"s3://{self.bucket.bucket_name}/{names.ANALYTICS_PREFIX}"
        self.table = glue.CfnTable(
            self,
            "EventsTable",
            catalog_id=stack.account,
            database_name=names.GLUE_DATABASE,
            table_input=glue.CfnTable.TableInputProperty(
                name=names.GLUE_TABLE,
                description="One row per stored event (at least once: the SQL keeps one per event_id)",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "parquet",
                    "EXTERNAL": "TRUE",
                    "parquet.compression": "ZSTD",
                    # Partition projection: Athena computes the partitions from these rules.
                    "projection.enabled": "true",
                    "projection.event_date.type": "date",
                    "projection.event_date.format": DATE_FORMAT_JAVA,
                    "projection.event_date.range": f"{PROJECTION_START},NOW",
                    "projection.event_date.interval": "1",
                    "projection.event_date.interval.unit": "DAYS",
                    "projection.event_type.type": "enum",
                    "projection.event_type.values": ",".join(names.SUBSCRIBABLE_EVENT_TYPES),
                    "storage.location.template": f"{location}event_date=${{event_date}}/event_type=${{event_type}}/",
                },
                partition_keys=[glue.CfnTable.ColumnProperty(name=key, type="string") for key in PARTITIONS],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                    ),
                    columns=[glue.CfnTable.ColumnProperty(name=name, type=kind) for name, _, kind in COLUMNS],
                ),
            ),
        )
        self.table.node.add_dependency(self.database)

        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=names.ATHENA_WORKGROUP,
            description="SupaDupa Analytics queries over the events table",
            recursive_delete_option=True,
            state="ENABLED",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                bytes_scanned_cutoff_per_query=BYTES_SCANNED_CUTOFF,
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.results_bucket.bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )

        cdk.CfnOutput(stack, names.OUT_ANALYTICS_BUCKET, value=self.bucket.bucket_name)
        cdk.CfnOutput(stack, names.OUT_ANALYTICS_RESULTS_BUCKET, value=self.results_bucket.bucket_name)

        for bucket in (self.bucket, self.results_bucket):
            acknowledge(
                bucket,
                "AwsSolutions-S1",
                "Object-level access is recorded by CloudTrail data events where the account enables "
                "them; server access logs would need a third bucket that itself goes unlogged. Only the "
                "event handler writes (one action), and only Athena and the workshop's operator read.",
            )

    def grant_write(self, role: iam.IRole) -> None:
        """The event handler's grant: add objects under the events prefix (names.HANDLER_ANALYTICS_ACTIONS),
        nothing else."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(names.HANDLER_ANALYTICS_ACTIONS),
                resources=[self.bucket.arn_for_objects(f"{names.ANALYTICS_PREFIX}*")],
            )
        )
        bucket_id = cdk.Stack.of(self).get_logical_id(self.bucket.node.default_child)
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "The handler adds objects whose keys it makes per batch (date, type and a batch id), so the grant "
            "names the events prefix; it is PutObject only, on this bucket (no read, list or delete).",
            f"Resource::<{bucket_id}.Arn>/{names.ANALYTICS_PREFIX}*",
        )
