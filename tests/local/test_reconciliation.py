"""What `.bwp/` remembers against what the local AWS holds: a marker tells a restarted local
AWS, stacks that no longer exist are forgotten with one line saying what to run again, and
services that serve a stack that is gone are stopped (or shown stale) rather than trusted."""

from __future__ import annotations

import httpx

from bwp_workshop import aws, names
from bwp_workshop.local import reconciliation
from bwp_workshop.local.runtime import LocalRuntime
from bwp_workshop.outputs import load_outputs
from bwp_workshop.settings import Settings
from tests.local_stacks import record_stack


def test_a_stack_the_cache_lists_but_the_local_aws_lacks_is_forgotten(local_settings: Settings) -> None:
    reconciliation.reconcile(local_settings)  # first look: the marker is planted, nothing to say
    record_stack(local_settings, names.INFRA_STACK, {names.OUT_TOKEN_TABLE: "tokens"})
    cached = load_outputs(local_settings)
    cached[names.EVENT_STACK] = {names.OUT_QUEUE_URL: "gone"}  # recorded, never deployed
    (local_settings.bwp_dir / "outputs.json").write_text(__import__("json").dumps(cached))

    found = reconciliation.reconcile(local_settings)

    assert found.dropped == (names.EVENT_STACK,) and not found.lost_state
    assert found.rerun == ("05",)
    assert "EventStack no longer exists in the local AWS" in found.message()
    assert "run notebook 05 again" in found.message()
    assert set(load_outputs(local_settings)) == {names.INFRA_STACK}  # the one that exists is kept
    assert reconciliation.reconcile(local_settings).message() == ""  # the cache is right now


def test_a_restarted_local_aws_is_noticed_and_says_what_to_run_again(local_settings: Settings) -> None:
    reconciliation.reconcile(local_settings)
    for stack in names.STACKS:
        record_stack(local_settings, stack, {"Key": stack})
    httpx.post(f"{local_settings.local_aws_endpoint}/moto-api/reset", trust_env=False).raise_for_status()

    found = reconciliation.reconcile(local_settings)

    assert found.lost_state and found.dropped == names.STACKS
    assert found.rerun == ("01", "03", "04", "05")
    assert "restarted" in found.message() and "notebooks 01, 03, 04, 05 again" in found.message()
    assert load_outputs(local_settings) == {}
    marker = aws.client("ssm", local_settings).get_parameter(Name=reconciliation.MARKER_PARAMETER)["Parameter"]["Value"]
    assert marker in reconciliation.marker_file(local_settings).read_text()  # a new marker for the next check


def test_up_forgets_the_stacks_a_restart_lost_and_stops_the_services_of_those_stacks(
    local_settings: Settings,
) -> None:
    runtime = LocalRuntime(local_settings)
    runtime.up()
    record_stack(local_settings, names.EVENT_STACK, {names.OUT_QUEUE_URL: "q", names.OUT_QUEUE_ARN: "arn"})
    assert runtime.status()[0].detail == ""
    httpx.post(f"{local_settings.local_aws_endpoint}/moto-api/reset", trust_env=False).raise_for_status()

    statuses = runtime.status()  # says so, and changes nothing
    assert "EventStack no longer exists" in statuses[0].detail and "local up` forgets them" in statuses[0].detail
    assert names.EVENT_STACK in load_outputs(local_settings)
    changes = {change.name: change.action for change in runtime.up()}

    assert "run notebook 05 again" in changes.get("local AWS", str(changes))
    assert names.EVENT_STACK not in load_outputs(local_settings)
    assert [service.name for service in runtime.status()] == ["moto", "sandbox"]
