"""Resources a stack's deletion leaves behind in moto 5.2.5, so ``cdk destroy`` fails.

moto deletes a stack's resources by calling ``resource.delete(account_id, region_name)`` on
each model that has one; route tables, routes, the NAT gateway (and its network interface),
the Elastic IP, the internet gateway attachment and the flow log have none, so the VPC cannot
be deleted ("has dependencies"); nor do the ECS service, cluster and task definition and the
load balancer target group. moto retries a delete that raises (a dependency still there) in
a later pass, so each delete below may refuse until its dependents are gone, as EC2 does.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import ec2_backends
from moto.ec2.models.elastic_ip_addresses import ElasticAddress
from moto.ec2.models.flow_logs import FlowLogs
from moto.ec2.models.internet_gateways import InternetGateway
from moto.ec2.models.nat_gateways import NatGateway
from moto.ec2.models.route_tables import Route, RouteTable
from moto.ec2.models.vpn_gateway import VPCGatewayAttachment
from moto.ecs import models as ecs_models
from moto.elbv2 import models as elbv2_models

from .patch import Patch


def _delete_route_table(self: Any, account_id: str, region_name: str) -> None:
    ec2_backends[account_id][region_name].delete_route_table(self.id)


def _delete_route(self: Any, account_id: str, region_name: str) -> None:
    backend = ec2_backends[account_id][region_name]
    if self.route_table.id not in backend.route_tables:
        return  # deleted with its route table
    try:
        backend.delete_route(
            self.route_table.id,
            self.destination_cidr_block,
            destination_ipv6_cidr_block=self.destination_ipv6_cidr_block,
            destination_prefix_list_id=getattr(self.destination_prefix_list, "id", None),
        )
    except EC2ClientError as error:
        if "InvalidRoute.NotFound" not in str(error.code):
            raise


def _delete_nat_gateway(self: Any, account_id: str, region_name: str) -> None:
    backend = ec2_backends[account_id][region_name]
    if self.id in backend.nat_gateways:
        backend.delete_nat_gateway(self.id)
    eni = getattr(self, "_eni", None)
    if eni is not None and eni.id in backend.enis:
        for address in list(backend.addresses):
            if address.eni is eni:
                backend.disassociate_address(address=address.public_ip)
        backend.delete_network_interface(eni.id)


def _delete_elastic_address(self: Any, account_id: str, region_name: str) -> None:
    backend = ec2_backends[account_id][region_name]
    if self in backend.addresses:
        backend.release_address(address=self.public_ip)


def _delete_internet_gateway(self: Any, account_id: str, region_name: str) -> None:
    backend = ec2_backends[account_id][region_name]
    if self.id in backend.internet_gateways:
        backend.delete_internet_gateway(self.id)


def _delete_gateway_attachment(self: Any, account_id: str, region_name: str) -> None:
    backend = ec2_backends[account_id][region_name]
    gateway = str(self.gateway_id or "")
    if gateway.startswith("igw-") and gateway in backend.internet_gateways:
        if backend.internet_gateways[gateway].vpc is not None:
            backend.detach_internet_gateway(gateway, self.vpc_id)
    elif gateway.startswith("vgw-") and gateway in backend.vpn_gateways:
        backend.detach_vpn_gateway(gateway, self.vpc_id)


def _delete_flow_log(self: Any, account_id: str, region_name: str) -> None:
    backend = ec2_backends[account_id][region_name]
    if self.id in backend.flow_logs:
        backend.delete_flow_logs([self.id])


def _delete_ecs_service(self: Any, account_id: str, region_name: str) -> None:
    backend = ecs_models.ecs_backends[account_id][region_name]
    service = backend.services.get(f"{self.cluster_name}:{self.name}")
    if service is not None and service.status == "ACTIVE":
        backend.delete_service(self.cluster_name, self.name, force=True)


def _delete_ecs_cluster(self: Any, account_id: str, region_name: str) -> None:
    backend = ecs_models.ecs_backends[account_id][region_name]
    if any(service.cluster_name == self.name and service.status == "ACTIVE" for service in backend.services.values()):
        raise ValidationError(message=f"The cluster {self.name} still has services")  # retried after them
    if self.name in backend.clusters:
        backend.delete_cluster(self.arn)


def _delete_task_definition(self: Any, account_id: str, region_name: str) -> None:
    backend = ecs_models.ecs_backends[account_id][region_name]
    if self.status == "ACTIVE":
        backend.deregister_task_definition(self.arn)


def _delete_target_group(self: Any, account_id: str, region_name: str) -> None:
    backend = elbv2_models.elbv2_backends[account_id][region_name]
    if self.arn in backend.target_groups:
        backend.delete_target_group(self.arn)


def _deletes(model: type, what: str, delete: Any) -> Patch:
    return Patch(
        model,
        "delete",
        f"deleting a stack deletes its {what}",
        guard="tests/local/test_moto_fixes_for_stacks.py::test_deleting_a_stack_deletes_its_network_service_and_target_group",
        replacement=delete,
        adds=True,
    )


PATCHES = (
    _deletes(RouteTable, "route tables", _delete_route_table),
    _deletes(Route, "routes", _delete_route),
    _deletes(NatGateway, "NAT gateway and its network interface", _delete_nat_gateway),
    _deletes(ElasticAddress, "Elastic IPs", _delete_elastic_address),
    _deletes(InternetGateway, "internet gateways", _delete_internet_gateway),
    _deletes(VPCGatewayAttachment, "internet and VPN gateway attachments", _delete_gateway_attachment),
    _deletes(FlowLogs, "flow logs", _delete_flow_log),
    _deletes(ecs_models.Service, "ECS services", _delete_ecs_service),
    _deletes(ecs_models.Cluster, "ECS clusters (after their services)", _delete_ecs_cluster),
    _deletes(ecs_models.TaskDefinition, "ECS task definitions", _delete_task_definition),
    _deletes(elbv2_models.FakeTargetGroup, "load balancer target groups", _delete_target_group),
)
