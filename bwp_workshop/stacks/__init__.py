"""The workshop's CDK app: InfraStack, EcsStack and EventStack (see app.py)."""
