"""The AWS calls a deployable made, judged against its role's synthesized policy statements
(references resolved to the deployed ARNs): which calls the role would deny, which grants no
call used. moto's own IAM enforcement checks every action against the resource ``*`` for
DynamoDB and Secrets Manager, so the CDK's resource-scoped grants cannot be enforced there;
this is the check AWS makes, for the identity policies the stacks write."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from .deployed import Resolver

CALL_LOG_DIR = Path(__file__).with_name("call_log")


@dataclass(frozen=True)
class Call:
    action: str
    resources: tuple[str, ...]


@dataclass
class Judgement:
    allowed: list[Call] = field(default_factory=list)
    denied: list[Call] = field(default_factory=list)
    used: set[tuple[str, str]] = field(default_factory=set)  # (action pattern, resource pattern) of grants used
    grants: set[tuple[str, str]] = field(default_factory=set)

    @property
    def unused(self) -> list[tuple[str, str]]:
        return sorted(self.grants - self.used)


def read_calls(path: Path, *, region: str, account: str) -> list[Call]:
    """The recorded calls as (IAM action, resource ARNs)."""
    calls = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        entry = json.loads(line)
        service, params = entry["service"], entry["params"]
        resources: list[str] = []
        tables = [params["TableName"]] if "TableName" in params else []
        tables += params.get("RequestItems", []) + params.get("TransactItems", [])
        # A Query or Scan of an index is authorized against the index's ARN (as IAM does).
        index = f"/index/{params['IndexName']}" if "IndexName" in params else ""
        resources += [f"arn:aws:dynamodb:{region}:{account}:table/{table}{index}" for table in tables]
        if "SecretId" in params:
            secret = params["SecretId"]
            # A name stands for the secret's ARN, which ends in "-" and six random characters.
            arn = f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}-AbCdEf"
            resources.append(secret if secret.startswith("arn:") else arn)
        if "Bucket" in params:  # an object's ARN when the call names a key, else the bucket's
            key = f"/{params['Key']}" if "Key" in params else ""
            resources.append(f"arn:aws:s3:::{params['Bucket']}{key}")
        if service == "ssm" and "Name" in params:  # a parameter's ARN drops its name's leading "/"
            resources.append(f"arn:aws:ssm:{region}:{account}:parameter/{params['Name'].lstrip('/')}")
        for entry_params in params.get("Entries", []) if service == "events" else []:
            bus = entry_params.get("EventBusName", "default")  # PutEvents: authorized per bus
            resources.append(bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}")
        if "QueueUrl" in params:
            resources.append(f"arn:aws:sqs:{region}:{account}:{params['QueueUrl'].rstrip('/').rsplit('/', 1)[-1]}")
        calls.append(Call(f"{service}:{entry['operation']}", tuple(resources) or ("*",)))
    return calls


def role_statements(template: dict[str, Any], role_prefix: str, resolver: Resolver, stack: str) -> list[dict[str, Any]]:
    """The Allow statements of every policy attached to the role (logical id prefix), resolved."""
    statements = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        roles = [role.get("Ref", "") for role in resource["Properties"].get("Roles", []) if isinstance(role, dict)]
        if not any(role.startswith(role_prefix) for role in roles):
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow" and "Condition" not in statement, statement
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            statements.append({"Action": actions, "Resource": [str(resolver.resolve(t, stack)) for t in targets]})
    return statements


def judge(calls: list[Call], statements: list[dict[str, Any]]) -> Judgement:
    """Each call is allowed when, for every resource it names, some statement grants its action
    on a matching resource (IAM's wildcards ``*`` and ``?``)."""
    judgement = Judgement()
    for statement in statements:
        judgement.grants.update((a, r) for a in statement["Action"] for r in statement["Resource"])
    for call in calls:
        ok = True
        for resource in call.resources:
            matched = {
                (action, pattern)
                for statement in statements
                for action in statement["Action"]
                for pattern in statement["Resource"]
                if fnmatchcase(call.action.lower(), action.lower()) and fnmatchcase(resource, pattern)
            }
            judgement.used.update(matched)
            ok = ok and bool(matched)
        (judgement.allowed if ok else judgement.denied).append(call)
    return judgement
