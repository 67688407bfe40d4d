"""EcsStack: the OAuth app as a Fargate service behind InfraStack's load balancer."""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .. import names
from . import token_key
from .nag import acknowledge
from .webhook_bus import webhook_bus_arn

#: What the container's health check runs: the image has Python but no curl.
HEALTH_COMMAND = (
    'python -c "import sys, urllib.request; '
    f"sys.exit(urllib.request.urlopen('http://127.0.0.1:{names.APP_PORT}{names.APP_HEALTH_PATH}', "
    'timeout=3).status != 200)" || exit 1'
)


class EcsStack(cdk.Stack):
    """ECS cluster, Fargate task definition (1 vCPU, 2 GiB, linux/x86_64) running the app image
    on its port, and a service of two tasks registered with the target group. The client id
    and secret are injected from the Secrets Manager secret ``names.CLIENT_SECRET_NAME``, which
    the onboarding step writes through the API: no secret value is in the template."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        service_security_group: ec2.ISecurityGroup,
        target_group: elbv2.ApplicationTargetGroup,
        repository: ecr.IRepository,
        token_table: dynamodb.ITable,
        business_product_table: dynamodb.ITable,
        app_base_url: str,
        app_environment: Callable[..., dict[str, str]],
        image_tag: str,
        log_retention: logs.RetentionDays,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id_, **kwargs)

        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        client_secret = secretsmanager.Secret.from_secret_name_v2(self, "ClientSecret", names.CLIENT_SECRET_NAME)

        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="OAuth app: read/write the token table, keep the business product table, read the event "
            "destinations",
            # The token table's key policy names the role (stacks/token_key.py).
            role_name=token_key.role_name(names.TASK_ROLE_NAME_PREFIX) if token_table.encryption_key else None,
        )
        token_key.grant_use(self.task_role, token_table)
        # Only what the app calls (names.TASK_TOKEN_ACTIONS): no Scan, no GetItem, no streams.
        self.task_role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(names.TASK_TOKEN_ACTIONS), resources=[token_table.table_arn])
        )
        # An install records the merchant's business products (its subscriptions' targetId);
        # uninstall finds them (through the index) and deletes them.
        self.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(names.TASK_BUSINESS_PRODUCT_ACTIONS), resources=[business_product_table.table_arn]
            )
        )
        # An install reads the event destinations notebook 05 registered, to subscribe the merchant.
        self.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[
                    cdk.Stack.of(self).format_arn(
                        service="ssm",
                        resource="parameter",
                        resource_name=names.EVENT_DESTINATION_PARAMETER.lstrip("/"),
                    )
                ],
            )
        )
        self.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"],
                resources=[f"{business_product_table.table_arn}/index/{names.BUSINESS_PRODUCT_BY_INSTALLATION}"],
            )
        )
        # The webhook puts the events it received on EventStack's webhook bus (a fixed name).
        self.task_role.add_to_principal_policy(
            iam.PolicyStatement(actions=["events:PutEvents"], resources=[webhook_bus_arn(self)])
        )
        # The client id and secret are injected by ECS through the execution role: the app never
        # reads the secret itself (tests/stacks/test_deployed_environment.py records its calls).

        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=1024,
            memory_limit_mib=2048,
            runtime_platform=ecs.RuntimePlatform(
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
                cpu_architecture=ecs.CpuArchitecture.X86_64,
            ),
            task_role=self.task_role,
        )
        self.log_group = logs.LogGroup(
            self, "AppLogs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        environment = app_environment(
            token_table=token_table.table_name,
            business_product_table=business_product_table.table_name,
            app_base_url=app_base_url,
        )
        # region service
        self.container = self.task_definition.add_container(
            "oauth",
            image=ecs.ContainerImage.from_ecr_repository(repository, image_tag),
            port_mappings=[ecs.PortMapping(container_port=names.APP_PORT, protocol=ecs.Protocol.TCP)],
            environment=environment,
            secrets={
                names.ENV_CLIENT_ID: ecs.Secret.from_secrets_manager(client_secret, names.CLIENT_SECRET_ID_KEY),
                names.ENV_CLIENT_SECRET: ecs.Secret.from_secrets_manager(client_secret, names.CLIENT_SECRET_SECRET_KEY),
            },
            health_check=ecs.HealthCheck(
                command=["CMD-SHELL", HEALTH_COMMAND],
                interval=cdk.Duration.seconds(15),
                timeout=cdk.Duration.seconds(5),
                retries=3,
                start_period=cdk.Duration.seconds(20),
            ),
            logging=ecs.LogDriver.aws_logs(
                stream_prefix="oauth", log_group=self.log_group, mode=ecs.AwsLogDriverMode.NON_BLOCKING
            ),
        )

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=2,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
            health_check_grace_period=cdk.Duration.seconds(60),
            security_groups=[service_security_group],
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            assign_public_ip=False,
        )
        self.service.attach_to_application_target_group(target_group)
        # endregion

        cdk.CfnOutput(self, names.OUT_CLUSTER_NAME, value=self.cluster.cluster_name)
        cdk.CfnOutput(self, names.OUT_SERVICE_NAME, value=self.service.service_name)

        acknowledge(
            self.task_definition,
            "AwsSolutions-ECS2",
            "Only non-secret configuration (table name, base URL, Buy with Prime endpoints) is passed as "
            "environment variables; the client id and secret come from Secrets Manager.",
        )
        acknowledge(
            self.task_definition.obtain_execution_role(),
            "AwsSolutions-IAM5",
            "ecr:GetAuthorizationToken, which the execution role needs to pull the image, has no resource-level "
            "permissions; its other grants are scoped to this repository, log group and secret.",
            "Resource::*",
        )
