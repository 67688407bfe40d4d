"""InfraStack's synthesized template, property by property: the VPC, the load balancer and its
listeners, the tasks' security groups, the repository, the tables, and CloudFront on aws."""

from __future__ import annotations

import json

import pytest

from bwp_workshop import names

from .conftest import Synthesized, only, resources

# --- InfraStack -----------------------------------------------------------------------------


def test_vpc_spans_two_zones_with_the_workshop_cidr(synthesized: Synthesized) -> None:
    infra = synthesized.templates[names.INFRA_STACK]
    infra.has_resource_properties("AWS::EC2::VPC", {"CidrBlock": "10.0.0.0/16"})
    subnets = resources(synthesized, names.INFRA_STACK, "AWS::EC2::Subnet").values()
    assert {s["Properties"]["AvailabilityZone"] for s in subnets} == {"us-east-1a", "us-east-1b"}
    assert len(resources(synthesized, names.INFRA_STACK, "AWS::EC2::NatGateway")) == 1
    infra.has_resource_properties("AWS::EC2::FlowLog", {"ResourceType": "VPC", "TrafficType": "ALL"})


def test_internet_facing_load_balancer_with_a_lowercase_name(synthesized: Synthesized) -> None:
    lb = only(synthesized, names.INFRA_STACK, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    assert lb["Scheme"] == "internet-facing"
    assert lb["Type"] == "application"
    assert lb["Name"] == names.LOAD_BALANCER_NAME == names.LOAD_BALANCER_NAME.lower()
    assert {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"} in lb["LoadBalancerAttributes"]


def test_http_listener_forwards_to_the_app_target_group(synthesized: Synthesized) -> None:
    listener = only(synthesized, names.INFRA_STACK, "AWS::ElasticLoadBalancingV2::Listener")["Properties"]
    assert listener["Port"] == 80
    assert listener["Protocol"] == "HTTP"
    assert listener["DefaultActions"][0]["Type"] == "forward"
    group_id = next(iter(resources(synthesized, names.INFRA_STACK, "AWS::ElasticLoadBalancingV2::TargetGroup")))
    assert listener["DefaultActions"][0]["TargetGroupArn"] == {"Ref": group_id}


def test_target_group_checks_the_health_endpoint_without_stickiness(synthesized: Synthesized) -> None:
    group = only(synthesized, names.INFRA_STACK, "AWS::ElasticLoadBalancingV2::TargetGroup")["Properties"]
    assert group["Port"] == 8080 == names.APP_PORT
    assert group["Protocol"] == "HTTP"
    assert group["TargetType"] == "ip"
    assert group["HealthCheckPath"] == names.APP_HEALTH_PATH == "/health"
    assert group["Matcher"] == {"HttpCode": "200"}
    attributes = {a["Key"]: a["Value"] for a in group.get("TargetGroupAttributes", [])}
    # The app keeps no session in memory: any task may answer /install, so no sticky cookie.
    assert attributes.get("stickiness.enabled", "false") == "false"


def _group_id(logical_id: str) -> dict:
    return {"Fn::GetAtt": [logical_id, "GroupId"]}


def _without_description(rule: dict) -> dict:
    return {key: value for key, value in rule.items() if key != "Description"}


@pytest.mark.parametrize("variant", ["synthesized", "with_certificate"])
def test_the_tasks_admit_only_the_load_balancer_and_only_on_the_app_port(
    synthesized: Synthesized, variant: str, request: pytest.FixtureRequest
) -> None:
    """Every way into the tasks' security group, in every stack: one rule, from the load
    balancer's group, on the app port; and the tasks sit in that group alone."""
    stacks: Synthesized = request.getfixturevalue(variant)
    groups = resources(stacks, names.INFRA_STACK, "AWS::EC2::SecurityGroup")
    (service,) = [key for key in groups if key.startswith("ServiceSecurityGroup")]
    (balancer,) = [key for key in groups if key.startswith("AlbSecurityGroup")]
    assert set(groups) == {service, balancer}
    # Nothing inline: CloudFormation would admit it alongside the rule resources.
    assert not groups[service]["Properties"].get("SecurityGroupIngress")
    ingress = {
        (stack, key): rule["Properties"]
        for stack in stacks.raw
        for key, rule in resources(stacks, stack, "AWS::EC2::SecurityGroupIngress").items()
    }
    assert [_without_description(rule) for rule in ingress.values()] == [
        {
            "IpProtocol": "tcp",
            "FromPort": names.APP_PORT,
            "ToPort": names.APP_PORT,
            "GroupId": _group_id(service),
            "SourceSecurityGroupId": _group_id(balancer),
        }
    ], ingress
    assert names.APP_PORT == 8080
    # The load balancer's inline ingress is for the listeners only; none is on the app port.
    listener_ports = {rule["FromPort"] for rule in groups[balancer]["Properties"].get("SecurityGroupIngress", [])}
    assert listener_ports == ({80, 443} if variant == "with_certificate" else {80}), listener_ports
    # Its way out goes to the tasks on the app port and nowhere else.
    egress = [
        rule["Properties"] for rule in resources(stacks, names.INFRA_STACK, "AWS::EC2::SecurityGroupEgress").values()
    ]
    assert [_without_description(rule) for rule in egress if rule["GroupId"] == _group_id(balancer)] == [
        {
            "IpProtocol": "tcp",
            "FromPort": names.APP_PORT,
            "ToPort": names.APP_PORT,
            "GroupId": _group_id(balancer),
            "DestinationSecurityGroupId": _group_id(service),
        }
    ]
    # The tasks are in the service group alone, and no other stack makes a group of its own.
    service_network = only(stacks, names.ECS_STACK, "AWS::ECS::Service")["Properties"]["NetworkConfiguration"]
    (task_group,) = service_network["AwsvpcConfiguration"]["SecurityGroups"]
    assert service in json.dumps(task_group) and balancer not in json.dumps(task_group)
    for stack in (names.ECS_STACK, names.EVENT_STACK):
        assert not resources(stacks, stack, "AWS::EC2::SecurityGroup"), stack


def test_repository_is_emptied_and_deleted_on_destroy(synthesized: Synthesized) -> None:
    repository = only(synthesized, names.INFRA_STACK, "AWS::ECR::Repository")
    assert repository["Properties"]["RepositoryName"] == names.REPOSITORY_NAME == "bwp-saas-integration"
    assert repository["Properties"]["EmptyOnDelete"] is True
    assert repository["Properties"]["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repository["Properties"]["ImageTagMutability"] == "IMMUTABLE"
    assert repository["DeletionPolicy"] == "Delete"


def test_the_task_runs_the_image_tagged_with_the_hash_of_its_sources(synthesized: Synthesized) -> None:
    from bwp_workshop.stacks.image_tag import source_tag

    (task,) = resources(synthesized, names.ECS_STACK, "AWS::ECS::TaskDefinition").values()
    image = json.dumps(task["Properties"]["ContainerDefinitions"][0]["Image"])
    tag = source_tag(synthesized.settings.project_dir)
    assert tag.startswith("src-") and len(tag) == 20
    assert f":{tag}" in image


def test_token_table_schema(synthesized: Synthesized) -> None:
    table = only(synthesized, names.INFRA_STACK, "AWS::DynamoDB::Table", "TokenTable")["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": names.TOKEN_PK, "KeyType": "HASH"},
        {"AttributeName": names.TOKEN_SK, "KeyType": "RANGE"},
    ]
    assert {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]} == {
        ("installation_id", "S"),
        ("updated_at", "N"),
    }
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["TimeToLiveSpecification"] == {"AttributeName": names.TOKEN_TTL_ATTRIBUTE, "Enabled": True}


def test_business_product_table_schema(synthesized: Synthesized) -> None:
    table = only(synthesized, names.INFRA_STACK, "AWS::DynamoDB::Table", "BusinessProductTable")["Properties"]
    assert table["KeySchema"] == [{"AttributeName": names.BUSINESS_PRODUCT_PK, "KeyType": "HASH"}]
    assert table["GlobalSecondaryIndexes"] == [
        {
            "IndexName": names.BUSINESS_PRODUCT_BY_INSTALLATION,
            "KeySchema": [{"AttributeName": names.BUSINESS_PRODUCT_INSTALLATION, "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_app_base_url_is_http_and_the_load_balancer_dns_name(synthesized: Synthesized) -> None:
    value = synthesized.raw[names.INFRA_STACK]["Outputs"][names.OUT_APP_BASE_URL]["Value"]
    lb_id = next(iter(resources(synthesized, names.INFRA_STACK, "AWS::ElasticLoadBalancingV2::LoadBalancer")))
    assert value == {"Fn::Join": ["", ["http://", {"Fn::GetAtt": [lb_id, "DNSName"]}]]}


def test_with_a_certificate_https_serves_and_http_redirects(with_certificate: Synthesized) -> None:
    listeners = resources(with_certificate, names.INFRA_STACK, "AWS::ElasticLoadBalancingV2::Listener").values()
    by_port = {listener["Properties"]["Port"]: listener["Properties"] for listener in listeners}
    assert set(by_port) == {80, 443}
    assert by_port[443]["Protocol"] == "HTTPS"
    assert by_port[443]["Certificates"] == [{"CertificateArn": with_certificate.settings.certificate_arn}]
    assert by_port[443]["DefaultActions"][0]["Type"] == "forward"
    redirect = by_port[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert redirect["RedirectConfig"]["Port"] == "443"
    base_url = with_certificate.raw[names.INFRA_STACK]["Outputs"][names.OUT_APP_BASE_URL]["Value"]
    assert base_url == "https://install.supadupa.example"


def test_on_aws_without_a_certificate_cloudfront_serves_https_and_the_load_balancer_answers_it_alone(
    aws_synthesized: Synthesized,
) -> None:
    """The review's M1: HTTPS by default on aws, without a domain."""
    (distribution_id, distribution), *others = resources(
        aws_synthesized, names.INFRA_STACK, "AWS::CloudFront::Distribution"
    ).items()
    assert not others
    config = distribution["Properties"]["DistributionConfig"]
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert set(behavior["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert behavior["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    assert behavior["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # all viewer but Host
    (origin,) = config["Origins"]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only"
    (header,) = origin["OriginCustomHeaders"]
    assert header["HeaderName"] == names.ORIGIN_VERIFY_HEADER
    token = header["HeaderValue"]
    assert "AWS::StackId" in json.dumps(token)  # unique to the stack, in no setting

    listeners = resources(aws_synthesized, names.INFRA_STACK, "AWS::ElasticLoadBalancingV2::Listener").values()
    (listener,) = [item["Properties"] for item in listeners]
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")
    (default,) = listener["DefaultActions"]  # anything not from the distribution: redirected to HTTPS
    assert default["Type"] == "redirect"
    assert default["RedirectConfig"]["Protocol"] == "HTTPS" and default["RedirectConfig"]["Port"] == "443"
    assert distribution_id in json.dumps(default["RedirectConfig"]["Host"])
    (rule,) = [
        r["Properties"]
        for r in resources(aws_synthesized, names.INFRA_STACK, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    ]
    (condition,) = rule["Conditions"]
    assert condition["Field"] == "http-header"
    assert condition["HttpHeaderConfig"] == {"HttpHeaderName": names.ORIGIN_VERIFY_HEADER, "Values": [token]}
    assert [action["Type"] for action in rule["Actions"]] == ["forward"]

    base_url = aws_synthesized.raw[names.INFRA_STACK]["Outputs"][names.OUT_APP_BASE_URL]["Value"]
    assert base_url == {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}]]}


def test_on_aws_the_load_balancer_admits_only_cloudfronts_origin_facing_addresses(
    aws_synthesized: Synthesized,
) -> None:
    """The load balancer open only to CloudFront: port 80 from the AWS-managed prefix list,
    whose id a custom resource looks up in the stack's region at deploy time; nothing from
    0.0.0.0/0 (the header check stays: another distribution is only redirected)."""
    group = only(aws_synthesized, names.INFRA_STACK, "AWS::EC2::SecurityGroup", "AlbSecurityGroup")["Properties"]
    inline = group.get("SecurityGroupIngress", [])
    separate = [
        r["Properties"]
        for r in resources(aws_synthesized, names.INFRA_STACK, "AWS::EC2::SecurityGroupIngress").values()
        if "AlbSecurityGroup" in json.dumps(r["Properties"]["GroupId"])
    ]
    ingress = inline + separate
    assert not [rule for rule in ingress if rule.get("CidrIp") == "0.0.0.0/0" or rule.get("CidrIpv6")]
    (rule,) = ingress
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 80, 80)
    (lookup_id, lookup) = next(
        (k, v)
        for k, v in aws_synthesized.raw[names.INFRA_STACK]["Resources"].items()
        if v["Type"] == "Custom::AWS" and "CloudFrontPrefixList" in k
    )
    assert rule["SourcePrefixListId"] == {"Fn::GetAtt": [lookup_id, "PrefixLists.0.PrefixListId"]}
    create = json.loads(
        "".join(p if isinstance(p, str) else "" for p in lookup["Properties"]["Create"]["Fn::Join"][1])
        if isinstance(lookup["Properties"]["Create"], dict)
        else lookup["Properties"]["Create"]
    )
    assert create["service"] == "EC2" and create["action"] == "describeManagedPrefixLists"
    assert create["parameters"]["Filters"] == [
        {"Name": "prefix-list-name", "Values": ["com.amazonaws.global.cloudfront.origin-facing"]}
    ]
    # the lookup's role may make that one call and nothing else
    statements = [
        st
        for policy in resources(aws_synthesized, names.INFRA_STACK, "AWS::IAM::Policy").values()
        if "CloudFrontPrefixList" in json.dumps(policy)
        for st in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert [st["Action"] for st in statements] == ["ec2:DescribeManagedPrefixLists"]


def test_the_local_target_keeps_port_80_open_and_a_certificate_redirects_it(
    synthesized: Synthesized, with_certificate: Synthesized
) -> None:
    """The local AWS runs no Lambda-backed custom resource (the prefix list's lookup) and the local stacks serve no
    traffic (the app runs as a local process), so the local target keeps a plain rule; with a
    certificate, port 80 is open but only redirects to 443."""
    local = only(synthesized, names.INFRA_STACK, "AWS::EC2::SecurityGroup", "AlbSecurityGroup")["Properties"]
    assert [(r["CidrIp"], r["FromPort"]) for r in local["SecurityGroupIngress"]] == [("0.0.0.0/0", 80)]
    assert not [k for k, v in synthesized.raw[names.INFRA_STACK]["Resources"].items() if v["Type"] == "Custom::AWS"]
    listeners = [
        item["Properties"]
        for item in resources(with_certificate, names.INFRA_STACK, "AWS::ElasticLoadBalancingV2::Listener").values()
    ]
    (http,) = [listener for listener in listeners if listener["Port"] == 80]
    assert [action["Type"] for action in http["DefaultActions"]] == ["redirect"]
    assert http["DefaultActions"][0]["RedirectConfig"]["Port"] == "443"


def test_the_local_target_and_a_certificate_make_no_distribution(
    synthesized: Synthesized, with_certificate: Synthesized
) -> None:
    for variant in (synthesized, with_certificate):
        assert not resources(variant, names.INFRA_STACK, "AWS::CloudFront::Distribution")
