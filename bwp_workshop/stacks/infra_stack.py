"""InfraStack: the network, the load balancer in front of the OAuth app, its image repository
and the token table."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from constructs import Construct

from .. import names
from .nag import acknowledge
from .tables import NUMBER, workshop_table


class InfraStack(cdk.Stack):
    """VPC (10.0.0.0/16, two AZs: ``availability_zones``, or the region's first two),
    internet-facing ALB (HTTP:80, and HTTPS:443 when a certificate is given) forwarding to a
    target group on the app's port, the ECR repository of the app image (immutable tags) and
    the token table."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        availability_zones: list[str] | None,
        log_retention: logs.RetentionDays,
        certificate_arn: str = "",
        app_domain_name: str = "",
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id_, **kwargs)

        flow_log_group = logs.LogGroup(
            self, "FlowLogs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.0.0.0/16"),
            # Named zones where the account is known (the local AWS); otherwise the region's first
            # two, resolved by CloudFormation (Fn::GetAZs): zone names differ between accounts.
            availability_zones=availability_zones,
            max_azs=None if availability_zones else 2,
            nat_gateways=1,  # one is enough for a workshop; each costs by the hour
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24),
            ],
            flow_logs={
                "all": ec2.FlowLogOptions(destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group))
            },
        )

        # Both security groups live here, so the app stack only refers to them (no rule of one
        # stack on a group of the other, no dependency cycle).
        self.alb_security_group = ec2.SecurityGroup(
            self, "AlbSecurityGroup", vpc=self.vpc, description="OAuth app load balancer", allow_all_outbound=False
        )
        self.service_security_group = ec2.SecurityGroup(
            self,
            "ServiceSecurityGroup",
            vpc=self.vpc,
            description="OAuth app tasks: the load balancer in, HTTPS out (ECR, Secrets Manager, DynamoDB, BwP)",
            allow_all_outbound=False,
        )
        self.service_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs and Buy with Prime"
        )
        self.alb_security_group.connections.allow_to(
            self.service_security_group, ec2.Port.tcp(names.APP_PORT), "load balancer to the app"
        )

        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.vpc,
            internet_facing=True,
            load_balancer_name=names.LOAD_BALANCER_NAME,
            security_group=self.alb_security_group,
            drop_invalid_header_fields=True,
        )
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "TargetGroup",
            vpc=self.vpc,
            port=names.APP_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=cdk.Duration.seconds(30),
            # No stickiness: the app keeps no session in memory, any task can answer /install.
            health_check=elbv2.HealthCheck(
                path=names.APP_HEALTH_PATH,
                port=str(names.APP_PORT),
                healthy_http_codes="200",
                interval=cdk.Duration.seconds(15),
                timeout=cdk.Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        if certificate_arn:
            self.listener = self.load_balancer.add_listener(
                "HttpsListener",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                default_target_groups=[self.target_group],
            )
            self.load_balancer.add_redirect(source_port=80, target_port=443)
            scheme = "https"
        else:
            self.listener = self.load_balancer.add_listener(
                "HttpListener",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                default_target_groups=[self.target_group],
            )
            scheme = "http"

        self.repository = ecr.Repository(
            self,
            "Repository",
            repository_name=names.REPOSITORY_NAME,
            image_scan_on_push=True,
            # A tag names one image for good; tags are derived from the sources (stacks/image_tag.py).
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            empty_on_delete=True,  # a CloudFormation property: no custom resource needed
            lifecycle_rules=[ecr.LifecycleRule(max_image_count=10, description="keep the last 10 images")],
        )

        self.token_table = workshop_table(
            self,
            "TokenTable",
            partition_key=names.TOKEN_PK,
            sort_key=(names.TOKEN_SK, NUMBER),
            time_to_live_attribute=names.TOKEN_TTL_ATTRIBUTE,
        )

        # Which installation a business product belongs to: the app writes it at install and
        # removes it at uninstall (through the index), the event handler reads it.
        self.business_product_table = workshop_table(
            self, "BusinessProductTable", partition_key=names.BUSINESS_PRODUCT_PK
        )
        self.business_product_table.add_global_secondary_index(
            index_name=names.BUSINESS_PRODUCT_BY_INSTALLATION,
            partition_key=dynamodb.Attribute(
                name=names.BUSINESS_PRODUCT_INSTALLATION, type=dynamodb.AttributeType.STRING
            ),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )

        # The load balancer's name is lowercase, so its DNS name is too (CloudFormation cannot
        # lowercase a value): the install URL that BwP hashes matches byte for byte.
        self.app_base_url = (
            f"{scheme}://{app_domain_name.lower()}"
            if app_domain_name
            else cdk.Fn.join("", [f"{scheme}://", self.load_balancer.load_balancer_dns_name])
        )
        cdk.CfnOutput(self, names.OUT_ALB_DNS_NAME, value=self.load_balancer.load_balancer_dns_name)
        cdk.CfnOutput(self, names.OUT_APP_BASE_URL, value=self.app_base_url)
        cdk.CfnOutput(self, names.OUT_TOKEN_TABLE, value=self.token_table.table_name)
        cdk.CfnOutput(self, names.OUT_BUSINESS_PRODUCT_TABLE, value=self.business_product_table.table_name)
        cdk.CfnOutput(self, names.OUT_REPOSITORY_URI, value=self.repository.repository_uri)

        acknowledge(
            self.load_balancer,
            "AwsSolutions-ELB2",
            "Access logs need an S3 bucket that must be emptied before the stack can be deleted; the workshop "
            "keeps destroy complete and leaves nothing billable. Enable them for production.",
        )
        acknowledge(
            self.alb_security_group,
            "AwsSolutions-EC23",
            "The load balancer is the app's public entry: Buy with Prime and merchants' browsers call the launch, "
            "install, settings and uninstall URLs from anywhere.",
        )
