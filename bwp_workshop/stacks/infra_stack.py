"""InfraStack: the network, the load balancer in front of the OAuth app, its image repository
and the token table."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from .. import names
from .alarms import AlarmTopic, AppAlarms
from .dynamodb_tables import NUMBER, workshop_table
from .nag import acknowledge
from .tls_front import TlsFront
from .token_key import token_table_key


class InfraStack(cdk.Stack):
    """VPC (10.0.0.0/16, two AZs: ``availability_zones``, or the region's first two),
    internet-facing ALB (HTTP:80, and HTTPS:443 when a certificate is given; with ``tls_front``
    and no certificate, CloudFront in front serving HTTPS, the ALB answering it alone) forwarding to a
    target group on the app's port, the ECR repository of the app image (immutable tags) and
    the token table; with ``image_source`` (a folder of the image's sources and their source
    tag), the CodeBuild project that builds the image from them where no Docker engine runs;
    with ``token_key_users``, the token table's customer-managed key."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        availability_zones: list[str] | None,
        log_retention: logs.RetentionDays,
        certificate_arn: str = "",
        app_domain_name: str = "",
        tls_front: bool = False,
        image_source: tuple[str, str] | None = None,
        token_key_users: list[str] | None = None,
        alarm_email: str = "",
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

        # region load-balancer
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.vpc,
            internet_facing=True,
            load_balancer_name=names.LOAD_BALANCER_NAME,
            security_group=self.alb_security_group,
            drop_invalid_header_fields=True,
        )
        # endregion
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
        elif tls_front:  # HTTPS without a domain: CloudFront in front (stacks/tls_front.py)
            front = TlsFront(
                self,
                "Front",
                load_balancer=self.load_balancer,
                target_group=self.target_group,
                security_group=self.alb_security_group,
                log_retention=log_retention,
            )
            self.listener = front.listener
            scheme = "https"
            app_domain_name = app_domain_name or front.domain_name
        else:
            # The local target: the stacks serve no traffic (the app runs as a local process),
            # and the local AWS runs no Lambda-backed custom resource (the CloudFront prefix list's
            # lookup), so port 80 stays open
            # to any address here (tests/stacks/test_infra_stack_template.py holds it to the local target).
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

        if image_source:
            self.image_build = self._image_build_project(image_source, log_retention)

        # With token_key_users (a list, maybe empty): a customer-managed key only the app's and
        # the handler's roles (and those users) may use (stacks/token_key.py).
        # region token-table
        self.token_table = workshop_table(
            self,
            "TokenTable",
            partition_key=names.TOKEN_PK,
            sort_key=(names.TOKEN_SK, NUMBER),
            time_to_live_attribute=names.TOKEN_TTL_ATTRIBUTE,
            encryption_key=token_table_key(self, users=token_key_users) if token_key_users is not None else None,
        )
        # endregion

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

        # region base-url
        # The load balancer's name is lowercase, so its DNS name is too (CloudFormation cannot
        # lowercase a value): the install URL that BwP hashes matches byte for byte.
        host = app_domain_name if cdk.Token.is_unresolved(app_domain_name) else app_domain_name.lower()
        self.app_base_url = (
            cdk.Fn.join("", [f"{scheme}://", host])
            if app_domain_name
            else cdk.Fn.join("", [f"{scheme}://", self.load_balancer.load_balancer_dns_name])
        )
        # endregion
        cdk.CfnOutput(self, names.OUT_ALB_DNS_NAME, value=self.load_balancer.load_balancer_dns_name)
        cdk.CfnOutput(self, names.OUT_APP_BASE_URL, value=self.app_base_url)
        cdk.CfnOutput(self, names.OUT_TOKEN_TABLE, value=self.token_table.table_name)
        cdk.CfnOutput(self, names.OUT_BUSINESS_PRODUCT_TABLE, value=self.business_product_table.table_name)
        cdk.CfnOutput(self, names.OUT_REPOSITORY_URI, value=self.repository.repository_uri)
        if image_source:
            cdk.CfnOutput(self, names.OUT_IMAGE_BUILD_PROJECT, value=self.image_build.project_name)

        # The one topic every alarm notifies (EventStack's too), and the load balancer's alarms.
        self.alarm_topic = AlarmTopic(self, "AlarmTopic", email=alarm_email).topic
        self.app_alarms = AppAlarms(
            self, "AppAlarms", load_balancer=self.load_balancer, target_group=self.target_group, topic=self.alarm_topic
        )
        cdk.CfnOutput(self, names.OUT_ALARM_TOPIC_ARN, value=self.alarm_topic.topic_arn)

        acknowledge(
            self.load_balancer,
            "AwsSolutions-ELB2",
            "A load balancer's access log records each request line with its query string, which carries OAuth "
            "codes, states and verification tokens; the app logs every request itself (method, path, status, "
            "refusal reason) without it, and the tests check that no secret reaches its logs.",
        )
        acknowledge(
            self.alb_security_group,
            "AwsSolutions-EC23",
            "With BWP_CERTIFICATE_ARN the load balancer is the app's public HTTPS entry (port 80 only redirects "
            "to 443): Buy with Prime and merchants' browsers call the launch, install, settings and uninstall "
            "URLs from anywhere. On aws without a certificate only CloudFront's origin-facing prefix list is "
            "admitted; the local target's stacks serve no traffic.",
        )

    def _image_build_project(
        self, image_source: tuple[str, str], log_retention: logs.RetentionDays
    ) -> codebuild.Project:
        """``docker build`` of ``oauth_app/Dockerfile`` from the uploaded sources and a push of
        ``$IMAGE_TAG`` to the repository (privileged: Docker runs in the build). Its role may
        read that one source object, push to that one repository and write its own log group."""
        folder, tag = image_source
        source = s3_assets.Asset(self, "ImageSource", path=folder)
        log_group = logs.LogGroup(
            self,
            "ImageBuildLogs",
            log_group_name=names.IMAGE_BUILD_LOG_GROUP,
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        variables = {
            names.BUILD_ENV_REPOSITORY_URI: self.repository.repository_uri,
            names.BUILD_ENV_IMAGE_TAG: tag,
            names.BUILD_ENV_SOURCE_TAG: tag,
        }
        image = f"${names.BUILD_ENV_REPOSITORY_URI}:${names.BUILD_ENV_IMAGE_TAG}"
        registry = f"${{{names.BUILD_ENV_REPOSITORY_URI}%%/*}}"
        login = [
            # The base image from ECR Public's mirror of the Docker library (Docker Hub limits
            # anonymous pulls from CodeBuild's shared addresses), with the Dockerfile's digest pin.
            "BASE=$(sed -n 's/^ARG PYTHON_IMAGE=//p' oauth_app/Dockerfile)",
            f'aws ecr get-login-password | docker login --username AWS --password-stdin "{registry}"',
        ]
        build_and_push = [  # one phase: a failed build pushes nothing
            'docker build --platform linux/amd64 --build-arg "PYTHON_IMAGE=public.ecr.aws/docker/library/$BASE" '
            f'-f oauth_app/Dockerfile -t "{image}" .',
            f'docker push "{image}"',
        ]
        project = codebuild.Project(
            self,
            "ImageBuild",
            project_name=names.IMAGE_BUILD_PROJECT,
            description="Builds the OAuth app image from the uploaded sources and pushes it to ECR",
            source=codebuild.Source.s3(bucket=source.bucket, path=source.s3_object_key),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.SMALL,
                privileged=True,  # docker build needs the Docker daemon
            ),
            environment_variables={
                key: codebuild.BuildEnvironmentVariable(value=value) for key, value in variables.items()
            },
            build_spec=codebuild.BuildSpec.from_object(
                {
                    "version": "0.2",
                    "phases": {"pre_build": {"commands": login}, "build": {"commands": build_and_push}},
                }
            ),
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)),
            timeout=cdk.Duration.minutes(30),
            grant_report_group_permissions=False,
        )
        self.repository.grant_push(project)
        project_id = self.get_logical_id(project.node.default_child)
        region = "<AWS::Region>" if cdk.Token.is_unresolved(self.region) else self.region
        account = "<AWS::AccountId>" if cdk.Token.is_unresolved(self.account) else self.account
        acknowledge(
            project,
            "AwsSolutions-IAM5",
            "The CDK's read grant of the uploaded source is scoped to the asset bucket and that one object "
            "key; the log grant covers the streams of the project's own log group; ecr:GetAuthorizationToken "
            "(docker login) has no resource-level permissions. Pushing is scoped to the one repository.",
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            f"Resource::arn:<AWS::Partition>:logs:{region}:{account}:log-group:/aws/codebuild/<{project_id}>:*",
            "Resource::*",
        )
        # Privileged mode (the Docker daemon that builds the image) has no cdk-nag rule to
        # acknowledge; what makes it acceptable is checked instead: the base image is pinned by
        # digest, kept by this buildspec, and the Dockerfile installs only its hash-pinned lock
        # (tests/unit/test_requirements.py, tests/stacks/test_image_build_template.py).
        acknowledge(
            project,
            "AwsSolutions-CB4",
            "The build produces no artifacts (the image goes to ECR, which encrypts it at rest); its "
            "logs and the source asset are encrypted with AWS-managed keys.",
        )
        return project
