"""The call the load balancer's prefix-list lookup makes at deploy time on aws
(``bwp_workshop.stacks.tls_front``), answered by the local AWS's EC2 API: the filter names the
one AWS-managed list, and the answer's first list carries the id the security group rule takes
(``PrefixLists.0.PrefixListId``). The local target's stacks do not run the lookup: the local AWS
runs no Lambda-backed custom resource, so the local load balancer keeps a plain rule."""

from __future__ import annotations

from bwp_workshop import aws
from bwp_workshop.settings import Settings
from bwp_workshop.stacks.tls_front import CLOUDFRONT_PREFIX_LIST


def test_the_lookup_call_finds_exactly_cloudfronts_origin_facing_list(local_settings: Settings) -> None:
    ec2 = aws.client("ec2", local_settings)
    answer = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [CLOUDFRONT_PREFIX_LIST]}]
    )
    (found,) = answer["PrefixLists"]
    assert found["PrefixListName"] == CLOUDFRONT_PREFIX_LIST
    assert found["PrefixListId"].startswith("pl-") and found["OwnerId"] == "AWS"
    everything = ec2.describe_managed_prefix_lists()["PrefixLists"]
    assert len(everything) > 1  # the filter, not the account, makes the answer one list
