"""A stack recorded on the local AWS without deploying it, for tests of the local runtime's
view of what is deployed."""

from __future__ import annotations

import json

from bwp_workshop import aws
from bwp_workshop.outputs import load_outputs, write_outputs
from bwp_workshop.settings import Settings


def record_stack(settings: Settings, stack: str, outputs: dict[str, str]) -> None:
    """A stack named ``stack`` in the local AWS (one SSM parameter, nothing else) with
    ``outputs`` recorded in ``.bwp/outputs.json`` as a deploy would: the local runtime checks
    the cache against CloudFormation and forgets stacks that do not exist."""
    template = {
        "Resources": {
            "Marker": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": f"/bwp-tests/{stack}", "Type": "String", "Value": stack},
            },
        }
    }
    aws.client("cloudformation", settings).create_stack(StackName=stack, TemplateBody=json.dumps(template))
    write_outputs(settings, {**load_outputs(settings), stack: outputs})
