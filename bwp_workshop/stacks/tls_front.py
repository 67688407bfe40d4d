"""HTTPS without a domain on the aws target: a CloudFront distribution in front of the load
balancer, so Buy with Prime and merchants reach the app at ``https://<id>.cloudfront.net``
(CloudFront's own certificate) and the app's URLs are registered with ``https://``.

- Viewers: HTTPS only; a plain-HTTP request to CloudFront is redirected to HTTPS. Nothing is
  cached (every request reaches the app); every method, the query string, headers
  (``verification-token``) and cookies (the install's state cookie) are forwarded.
- CloudFront to the load balancer: HTTP on port 80 (the load balancer has no certificate of its
  own), with a header only this distribution sends (:data:`~bwp_workshop.names.ORIGIN_VERIFY_HEADER`,
  the stack's unique id as its value, which is no secret to whoever may read the stack).
- The load balancer forwards to the app only requests that carry that header; any other request
  on port 80 is redirected to the same path at the HTTPS address. So port 80 only redirects.
  Its security group stays open to any address on port 80: CloudFront's origin-facing prefix
  list has a different id in each region and CloudFormation cannot look it up.

A certificate and a domain stay an option (``BWP_CERTIFICATE_ARN``, ``BWP_APP_DOMAIN_NAME``):
the load balancer then serves HTTPS itself and no distribution is made.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from .. import names
from .nag import acknowledge


class TlsFront(Construct):
    """The distribution, and the load balancer's port 80 listener that answers it alone."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
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
        )
        self.listener.add_action(
            "FromTheDistribution",
            priority=1,
            conditions=[elbv2.ListenerCondition.http_header(names.ORIGIN_VERIFY_HEADER, [token])],
            action=elbv2.ListenerAction.forward([target_group]),
        )
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
            "anything; a rate-based WAF rule on /launch is the remaining option (review finding L3).",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "Without a domain the distribution serves CloudFront's default certificate, whose minimum protocol "
            "CloudFront sets; with BWP_CERTIFICATE_ARN and BWP_APP_DOMAIN_NAME the load balancer serves TLS 1.2+ "
            "itself and no distribution is made.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR5",
            "The load balancer has no certificate without a domain, so CloudFront reaches it over HTTP; it "
            "forwards only requests carrying the distribution's header and redirects every other one to HTTPS.",
        )
