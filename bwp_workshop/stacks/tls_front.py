"""HTTPS without a domain on the aws target: a CloudFront distribution in front of the load
balancer, so Buy with Prime and merchants reach the app at ``https://<id>.cloudfront.net``
(CloudFront's own certificate) and the app's URLs are registered with ``https://``.

- Viewers: HTTPS only; a plain-HTTP request to CloudFront is redirected to HTTPS. Nothing is
  cached (every request reaches the app); every method, the query string, headers
  (``verification-token``) and cookies (the install's state cookie) are forwarded.
- CloudFront to the load balancer: HTTP on port 80 (a load balancer's own DNS name cannot hold
  a certificate), with a header only this distribution sends
  (:data:`~bwp_workshop.names.ORIGIN_VERIFY_HEADER`, the stack's unique id as its value, which
  is no secret to whoever may read the stack).
- The load balancer's security group admits port 80 from CloudFront's origin-facing addresses
  only: the AWS-managed prefix list :data:`CLOUDFRONT_PREFIX_LIST`, whose id differs in each
  region and which CloudFormation cannot look up by name, so a custom resource looks it up at
  deploy time (``ec2:DescribeManagedPrefixLists``, the one call its role may make).
- The load balancer forwards to the app only requests that carry the header; any other request
  on port 80 (another CloudFront distribution's) is redirected to the same path at the HTTPS
  address. So port 80 only redirects, except for this distribution.

Residual risk, accepted: the CloudFront-to-load-balancer hop is plain HTTP between CloudFront's
edge and the region (codes, states and verification tokens cross it unencrypted, inside AWS's
network as far as AWS routes it), and the header is known to anyone who can read the stack.
CloudFront VPC origins would take the load balancer off the internet (internal, in the private
subnets) and keep that hop on AWS's private network; they are the next step for a partner who
needs it (docs/stacks.md). A certificate and a domain (``BWP_CERTIFICATE_ARN``,
``BWP_APP_DOMAIN_NAME``) remove the hop: the load balancer then serves HTTPS itself, port 80
redirects to 443, and no distribution is made.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from .. import names
from .nag import acknowledge

#: The AWS-managed prefix list of CloudFront's origin-facing addresses (one per region, same name).
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"


class TlsFront(Construct):
    """The distribution, and the load balancer's port 80 listener that answers it alone."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        security_group: ec2.ISecurityGroup,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id_)
        token = cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))  # the stack's unique id
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="OAuth app over HTTPS (CloudFront's certificate)",
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.LoadBalancerV2Origin(
                    load_balancer,
                    protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY,
                    custom_headers={names.ORIGIN_VERIFY_HEADER: token},
                ),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            ),
        )
        self.domain_name = self.distribution.distribution_domain_name
        self.listener = load_balancer.add_listener(
            "HttpListener",
            port=80,
            protocol=elbv2.ApplicationProtocol.HTTP,
            default_action=elbv2.ListenerAction.redirect(
                protocol="HTTPS", host=self.domain_name, port="443", permanent=True
            ),
            open=False,  # not 0.0.0.0/0: CloudFront's origin-facing addresses only (below)
        )
        self.prefix_list_id = self._cloudfront_prefix_list(log_retention)
        security_group.add_ingress_rule(
            ec2.Peer.prefix_list(self.prefix_list_id), ec2.Port.tcp(80), "CloudFront's origin-facing addresses"
        )
        self.listener.add_action(
            "FromTheDistribution",
            priority=1,
            conditions=[elbv2.ListenerCondition.http_header(names.ORIGIN_VERIFY_HEADER, [token])],
            action=elbv2.ListenerAction.forward([target_group]),
        )
        self._acknowledge()

    def _cloudfront_prefix_list(self, log_retention: logs.RetentionDays) -> str:
        """The id of :data:`CLOUDFRONT_PREFIX_LIST` in the stack's region, looked up at deploy time."""
        call = cr.AwsSdkCall(
            service="EC2",
            action="describeManagedPrefixLists",
            parameters={"Filters": [{"Name": "prefix-list-name", "Values": [CLOUDFRONT_PREFIX_LIST]}]},
            physical_resource_id=cr.PhysicalResourceId.of(CLOUDFRONT_PREFIX_LIST),
            output_paths=["PrefixLists.0.PrefixListId"],
        )
        # Its own role and log group: no managed policy, logs written to that one group only.
        role = iam.Role(
            self,
            "PrefixListLookupRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Looks up CloudFront's origin-facing prefix list at deploy time",
        )
        log_group = logs.LogGroup(
            self, "PrefixListLookupLogs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        log_group.grant_write(role)
        self.prefix_list_lookup = cr.AwsCustomResource(
            self,
            "CloudFrontPrefixList",
            on_create=call,
            on_update=call,
            role=role,
            log_group=log_group,
            # DescribeManagedPrefixLists has no resource-level permissions.
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["ec2:DescribeManagedPrefixLists"], resources=["*"])]
            ),
            install_latest_aws_sdk=False,
        )
        acknowledge(
            self,
            "AwsSolutions-IAM5",
            "ec2:DescribeManagedPrefixLists has no resource-level permissions; it is the lookup's one call and "
            "reads only the names and ids of prefix lists.",
            "Resource::*",
        )
        return self.prefix_list_lookup.get_response_field("PrefixLists.0.PrefixListId")

    def _acknowledge(self) -> None:
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR3",
            "CloudFront's access logs record each request's query string, which carries OAuth codes, states "
            "and verification tokens; the app logs every request itself (method, path, status) without it.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "Buy with Prime's servers and merchants' browsers call the app from wherever they are; a partner "
            "whose business is limited to some countries adds a geo restriction.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "Every app URL but /launch verifies a Buy with Prime signature or a single-use state before it does "
            "anything, and /launch writes nothing (its pending install is sealed in the browser's cookie): no "
            "request reaches the token table or Buy with Prime's token endpoint without Buy with Prime's "
            "signature. A WAF web ACL (a monthly fee per ACL and rule) adds rate limits for a partner who wants them.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "Without a domain the distribution serves CloudFront's default certificate, whose security policy "
            "CloudFront fixes and a distribution cannot raise; Buy with Prime's servers and current browsers "
            "negotiate TLS 1.2 or 1.3. A partner who must refuse older protocols sets BWP_CERTIFICATE_ARN and "
            "BWP_APP_DOMAIN_NAME: the load balancer serves TLS 1.2+ itself and no distribution is made.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR5",
            "A load balancer's own DNS name cannot hold a certificate, so without a domain CloudFront reaches it "
            "over HTTP; its security group admits only CloudFront's origin-facing prefix list, and it forwards "
            "only requests carrying the distribution's header (every other one is redirected to HTTPS). With "
            "BWP_CERTIFICATE_ARN and BWP_APP_DOMAIN_NAME there is no such hop.",
        )
