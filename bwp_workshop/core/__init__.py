"""Code shared by the deployables (the OAuth app and the event Lambda) and the notebooks:
Buy with Prime token endpoint client, token table, verification tokens.

This package is bundled into the Lambda asset and the container image. It imports only the
standard library, httpx, boto3, tenacity and (for verification tokens) PyJWT: never Jupyter,
pandas, the CDK or pydantic-settings.
"""
