"""The CDK app entry point named in cdk.json (``python3 -m bwp_workshop.stacks.app``)."""

from __future__ import annotations

import aws_cdk as cdk

from ..settings import Settings, get_settings


def build_app(settings: Settings | None = None) -> cdk.App:
    """The workshop's CDK app for the configured target. Stacks are synthesized with
    :func:`bwp_workshop.stacks.synthesis.stack_synthesizer` and
    :func:`bwp_workshop.stacks.synthesis.stack_environment`."""
    settings = settings or get_settings()
    app = cdk.App()
    cdk.Tags.of(app).add("project", "bwp-workshop")
    cdk.Tags.of(app).add("bwp-target", settings.target)
    return app


if __name__ == "__main__":
    build_app().synth()
