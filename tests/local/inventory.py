"""What exists in the local AWS, by kind, besides the CDK bootstrap: to check that destroy
leaves nothing behind."""

from __future__ import annotations

from typing import Any

from bwp_workshop import aws
from bwp_workshop.settings import Settings

#: Names of what ``cdk bootstrap`` creates (its stack, roles, repository).
BOOTSTRAP_PREFIXES = ("cdk-", "CDKToolkit")


def _not_bootstrap(names: list[str]) -> list[str]:
    return [name for name in names if not name.startswith(BOOTSTRAP_PREFIXES)]


def leftovers(settings: Settings) -> dict[str, list[Any]]:
    """Every resource of the kinds the workshop's stacks create, outside the bootstrap."""
    c = lambda service: aws.client(service, settings)  # noqa: E731
    ec2 = c("ec2")
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    in_vpcs = [{"Name": "vpc-id", "Values": vpcs}] if vpcs else None
    found: dict[str, list[Any]] = {
        "stacks": _not_bootstrap([s["StackName"] for s in c("cloudformation").describe_stacks()["Stacks"]]),
        "vpcs": vpcs,
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets(Filters=in_vpcs)["Subnets"]] if in_vpcs else [],
        "route tables": [r["RouteTableId"] for r in ec2.describe_route_tables(Filters=in_vpcs)["RouteTables"]]
        if in_vpcs
        else [],
        "security groups": [g["GroupId"] for g in ec2.describe_security_groups(Filters=in_vpcs)["SecurityGroups"]]
        if in_vpcs
        else [],
        "internet gateways": [g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]],
        "nat gateways": [
            n["NatGatewayId"] for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"
        ],
        "elastic ips": [a.get("AllocationId") for a in ec2.describe_addresses()["Addresses"]],
        "network interfaces": [n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces()["NetworkInterfaces"]],
        "flow logs": [f["FlowLogId"] for f in ec2.describe_flow_logs()["FlowLogs"]],
        "load balancers": [lb["LoadBalancerName"] for lb in c("elbv2").describe_load_balancers()["LoadBalancers"]],
        "target groups": [tg["TargetGroupName"] for tg in c("elbv2").describe_target_groups()["TargetGroups"]],
        "repositories": _not_bootstrap([r["repositoryName"] for r in c("ecr").describe_repositories()["repositories"]]),
        "tables": c("dynamodb").list_tables()["TableNames"],
        "clusters": [
            cluster["clusterName"]
            for cluster in c("ecs").describe_clusters(clusters=c("ecs").list_clusters()["clusterArns"])["clusters"]
            if cluster["status"] == "ACTIVE"
        ],
        "services": [
            service["serviceName"]
            for cluster in c("ecs").list_clusters()["clusterArns"]
            for service in c("ecs").describe_services(
                cluster=cluster, services=c("ecs").list_services(cluster=cluster)["serviceArns"] or ["none"]
            )["services"]
            if service["status"] == "ACTIVE"
        ],
        "task definitions": c("ecs").list_task_definitions(status="ACTIVE")["taskDefinitionArns"],
        "roles": _not_bootstrap([r["RoleName"] for r in c("iam").list_roles()["Roles"]]),
        "functions": [f["FunctionName"] for f in c("lambda").list_functions()["Functions"]],
        "event source mappings": [m["UUID"] for m in c("lambda").list_event_source_mappings()["EventSourceMappings"]],
        "queues": c("sqs").list_queues().get("QueueUrls", []),
        "event buses": [b["Name"] for b in c("events").list_event_buses()["EventBuses"] if b["Name"] != "default"],
        "rules": [
            rule["Name"]
            for bus in c("events").list_event_buses()["EventBuses"]
            for rule in c("events").list_rules(EventBusName=bus["Name"])["Rules"]
        ],
        "log groups": [g["logGroupName"] for g in c("logs").describe_log_groups()["logGroups"]],
        "codebuild projects": c("codebuild").list_projects()["projects"],
        "alarms": [a["AlarmName"] for a in c("cloudwatch").describe_alarms()["MetricAlarms"]],
        "secrets": [s["Name"] for s in c("secretsmanager").list_secrets()["SecretList"]],
    }
    return {kind: items for kind, items in found.items() if items}
