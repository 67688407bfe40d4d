"""The workshop's CDK app (app.py) and its stacks; the target (bwp_workshop.targets) says how they are synthesized."""

import os

# jsii prints an end-of-life banner on Node 20 with every synth; the workshop pins its Node.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# jsii warns on every first synth that CfnEventBusPolicy#principal is deprecated, a property the
# workshop's stacks do not set; in a Jupyter kernel the warning lands, undecoded, in the cell.
os.environ.setdefault("JSII_DEPRECATED", "quiet")
