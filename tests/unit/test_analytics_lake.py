"""The analytics store's bucket, in process against moto: the synced copy DuckDB reads, the
partitions listed, a merchant's rows deleted from every object and every older version, the
store emptied (every version) and the catalog dropped, as notebooks 07 and 99 do."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import duckdb
import pytest
from moto import mock_aws

from bwp_workshop import aws, names
from bwp_workshop.core.analytics_record import analytics_row, write_partitions
from bwp_workshop.outputs import write_outputs
from bwp_workshop.settings import Settings
from bwp_workshop.steps import analytics_lake, cleanup

from .test_analytics_queries import orders_story

BUCKET = "eventstack-analyticsbucket-test"
RESULTS = "eventstack-analyticsresultsbucket-test"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    aws.clear_cache()
    with mock_aws():
        settings = Settings(target="aws", project_dir=tmp_path, state_dir=tmp_path / ".bwp")  # type: ignore[call-arg]
        s3 = boto3.client("s3")
        for bucket in (BUCKET, RESULTS):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        write_outputs(
            settings,
            {names.EVENT_STACK: {names.OUT_ANALYTICS_BUCKET: BUCKET, names.OUT_ANALYTICS_RESULTS_BUCKET: RESULTS}},
        )
        yield settings
    aws.clear_cache()


def upload(batches: int = 3) -> None:
    """The story's events as the handler writes them: a batch at a time, one object per partition."""
    s3 = boto3.client("s3")
    items = orders_story()
    with tempfile.TemporaryDirectory() as folder:
        for n in range(batches):
            batch = items[n::batches]
            for relative in write_partitions([analytics_row(i) for i in batch], Path(folder), batch_id=f"b{n}"):
                s3.put_object(Bucket=BUCKET, Key=names.ANALYTICS_PREFIX + relative.as_posix(),
                              Body=(Path(folder) / relative).read_bytes())  # fmt: skip


def rows_by_installation(settings: Settings, *, every_version: bool) -> dict[str, int]:
    s3 = boto3.client("s3")
    counts: dict[str, int] = {}
    listing = s3.list_object_versions(Bucket=BUCKET)["Versions"] if every_version else None
    keys = (
        [(v["Key"], v["VersionId"]) for v in listing]
        if listing is not None
        else [(o["Key"], None) for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "o.parquet"
        for key, version in keys:
            extra = {"VersionId": version} if version else {}
            path.write_bytes(s3.get_object(Bucket=BUCKET, Key=key, **extra)["Body"].read())
            for installation, count in duckdb.execute(
                "SELECT installation_id, count(*) FROM read_parquet(?) GROUP BY 1", [str(path)]
            ).fetchall():
                counts[installation] = counts.get(installation, 0) + count
    return counts


def test_the_synced_copy_holds_every_object_and_follows_the_bucket(settings: Settings) -> None:
    upload()
    first = analytics_lake.sync(settings)
    assert first["copied"] > 10 and first["removed"] == 0
    assert analytics_lake.sync(settings) == {"copied": 0, "kept": first["copied"], "removed": 0}
    listing = analytics_lake.partitions(settings)
    assert set(listing["event_type"]) >= {"ORDER_CONFIRMED", "PACKAGE_DELIVERED", "REFUND_COMPLETED"}
    assert listing["objects"].sum() == first["copied"]
    read = analytics_lake.partitions_read(settings, "delivery_time")
    assert set(read["event_type"]) == {"ORDER_CONFIRMED", "PACKAGE_DELIVERED"}

    gone = boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"][0]["Key"]
    boto3.client("s3").delete_object(Bucket=BUCKET, Key=gone)
    assert analytics_lake.sync(settings)["removed"] == 1
    assert not (analytics_lake.local_copy(settings) / gone.removeprefix(names.ANALYTICS_PREFIX)).exists()


def test_a_merchants_rows_are_deleted_from_every_object_and_version(settings: Settings) -> None:
    upload()
    before = rows_by_installation(settings, every_version=False)
    assert before["inst-a"] > 0 and before["inst-b"] > 0
    done = analytics_lake.delete_merchant("inst-a", settings)
    assert done["rows removed"] == before["inst-a"]
    assert done["objects rewritten"] + done["objects deleted"] > 0
    assert rows_by_installation(settings, every_version=True) == {"inst-b": before["inst-b"]}
    assert analytics_lake.delete_merchant("inst-a", settings)["rows removed"] == 0


def test_the_store_is_emptied_of_every_version_and_the_catalog_dropped(settings: Settings) -> None:
    upload()
    s3 = boto3.client("s3")
    key = s3.list_objects_v2(Bucket=BUCKET)["Contents"][0]["Key"]
    s3.delete_object(Bucket=BUCKET, Key=key)  # a delete marker and an older version
    s3.put_object(Bucket=RESULTS, Key="results/q.csv", Body=b"x")
    glue = boto3.client("glue")
    glue.create_database(DatabaseInput={"Name": names.GLUE_DATABASE})
    glue.create_table(DatabaseName=names.GLUE_DATABASE, TableInput={"Name": names.GLUE_TABLE})
    assert cleanup.leftovers(settings)["analytics buckets"] == sorted([BUCKET, RESULTS])

    emptied = cleanup.empty_analytics_store(settings)
    assert emptied[BUCKET] > 10 and emptied[RESULTS] == 1
    for bucket in (BUCKET, RESULTS):
        versions = s3.list_object_versions(Bucket=bucket)
        assert not versions.get("Versions") and not versions.get("DeleteMarkers")
        s3.delete_bucket(Bucket=bucket)  # as CloudFormation does when the stack is destroyed
    assert cleanup.drop_analytics_catalog(settings) == [
        f"table {names.GLUE_DATABASE}.{names.GLUE_TABLE}",
        f"database {names.GLUE_DATABASE}",
    ]
    assert cleanup.drop_analytics_catalog(settings) == []
    left = cleanup.leftovers(settings)
    assert left["analytics buckets"] == [] and left["analytics databases"] == []


def test_on_aws_each_metric_runs_in_the_workgroup_and_its_answer_is_typed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Athena's answer (botocore's Stubber: moto's Athena does not answer this botocore): the query
    runs in the workshop's workgroup and database, the header row is dropped, numbers are numbers,
    and a failed query says why."""
    from botocore.stub import Stubber

    from bwp_workshop.errors import WorkshopError
    from bwp_workshop.steps import analytics_queries as queries

    athena = boto3.client("athena")
    monkeypatch.setattr(analytics_lake.aws, "client", lambda service, _settings: athena)
    monkeypatch.setattr(analytics_lake.time, "sleep", lambda _seconds: None)
    sql = queries.render("orders", "athena")
    columns = [{"Name": "installation_id", "Type": "varchar"}, {"Name": "day", "Type": "varchar"},
               {"Name": "orders", "Type": "bigint"}]  # fmt: skip
    rows = [["installation_id", "day", "orders"], ["inst-a", "2026-12-07", "3"], ["inst-b", "2026-12-07", "4"]]
    with Stubber(athena) as stub:
        stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": "q-1"},
            {"QueryString": sql, "WorkGroup": names.ATHENA_WORKGROUP,
             "QueryExecutionContext": {"Database": names.GLUE_DATABASE}},
        )  # fmt: skip
        stub.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "RUNNING"}}})
        stub.add_response(
            "get_query_execution",
            {"QueryExecution": {"Status": {"State": "SUCCEEDED"}, "Statistics": {"DataScannedInBytes": 1234}}},
        )
        stub.add_response(
            "get_query_results",
            {"ResultSet": {"ResultSetMetadata": {"ColumnInfo": columns},
                           "Rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows]}},
        )  # fmt: skip
        frame, scanned = analytics_lake.run_athena(settings, sql)
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-2"})
        stub.add_response(
            "get_query_execution",
            {"QueryExecution": {"Status": {"State": "CANCELLED", "StateChangeReason": "Bytes scanned limit exceeded"}}},
        )
        with pytest.raises(WorkshopError, match="Bytes scanned limit"):
            analytics_lake.run_athena(settings, sql)
    assert scanned == 1234
    assert frame.to_dict("records") == [
        {"installation_id": "inst-a", "day": "2026-12-07", "orders": 3},
        {"installation_id": "inst-b", "day": "2026-12-07", "orders": 4},
    ]


def test_the_cli_lists_partitions_and_deletes_a_merchant(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from bwp_workshop.cli import main

    upload()
    monkeypatch.setenv("BWP_PROJECT_DIR", str(settings.project_dir))
    monkeypatch.setenv("BWP_TARGET", "aws")
    monkeypatch.setenv("BWP_STATE_DIR", str(settings.state_dir))
    runner = CliRunner()
    listed = runner.invoke(main, ["analytics", "partitions"])
    assert listed.exit_code == 0, listed.output
    assert "ORDER_CONFIRMED" in listed.output and "REFUND_COMPLETED" in listed.output
    refused = runner.invoke(main, ["analytics", "delete-merchant", "inst-a"], input="n\n")
    assert refused.exit_code == 1 and rows_by_installation(settings, every_version=True)["inst-a"] > 0
    deleted = runner.invoke(main, ["analytics", "delete-merchant", "inst-a", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert "rows removed: " in deleted.output
    assert set(rows_by_installation(settings, every_version=True)) == {"inst-b"}
