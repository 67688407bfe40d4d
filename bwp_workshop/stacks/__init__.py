"""The workshop's CDK app (app.py) and how its stacks are synthesized for each target (synthesis.py)."""
