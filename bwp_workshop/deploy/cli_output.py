"""What the cdk CLI prints, read for a person: its progress on a status line (what it does, the
resources done per stack), a ``DeployError`` that names the failing stack, resource, cause and
fix, and ``cdk diff``'s resource lines as a table."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import DeployError
from ..settings import Settings
from ..targets import choose_target

if TYPE_CHECKING:
    from ..notebook.progress import Status


def credentials_hint(settings: Settings) -> str:
    return choose_target(settings).credentials_hint()


_EVENT_LINE = re.compile(
    r"^(?P<stack>[A-Za-z][\w-]*) \|\s*(?P<done>\d+)/(?P<total>\d+) \|[^|]*\|\s*(?P<status>[A-Z_]+)\s*\|"
    r"\s*(?P<type>[\w:]+)\s*\|\s*(?P<resource>.*)$"
)


class Progress:
    """Shows the CLI's progress on a status line (:class:`~bwp_workshop.notebook.progress.Status`):
    what the CLI says it does (``InfraStack: creating CloudFormation changeset...``) and, from its
    event lines (``Stack | 3/25 | time | STATUS | Type | Resource``), each stack's resources
    done. The CLI's summary lines (✅, ❌, ✨) go to ``write``, above the status line."""

    def __init__(
        self, enabled: bool = True, write: Callable[[str], None] | None = None, status: Status | None = None
    ) -> None:
        self.enabled = enabled
        self.write = write
        self.status = status
        #: Resources done and in all, per stack, as the event lines say.
        self.stacks: dict[str, tuple[int, int]] = {}

    def __call__(self, line: str) -> None:
        if not self.enabled:
            return
        text = line.strip()
        match = _EVENT_LINE.match(text)
        if match is None:
            if text.startswith(("✅", "❌", "✨")):
                if self.write is not None:
                    self.status.write(text) if self.status is not None else self.write(text)
            elif text and self.status is not None:
                self.status(text)
            return
        stack, total = match["stack"], int(match["total"])
        done = min(int(match["done"]), total)
        if match["status"].endswith("_COMPLETE") and match["type"] == "AWS::CloudFormation::Stack":
            done = total  # the stack's own last event: every resource is done
        before = self.stacks.get(stack, (0, 0))
        self.stacks[stack] = (max(before[0], done), max(before[1], total))
        if self.status is not None:
            counts = ", ".join(f"{name} {n}/{of}" for name, (n, of) in self.stacks.items())
            self.status(f"{counts} resources · {match['status']} {match['resource'].split(' ')[0]}")


_FAILED_EVENT = re.compile(
    r"^(?P<stack>[A-Za-z][\w-]*) \|[^|]*\|[^|]*\|\s*(?P<status>\w+_FAILED)\s*\|\s*(?P<type>[\w:]+)\s*\|"
    r"\s*(?P<resource>\S+)(?: \([^)]*\))?\s*(?P<reason>.*)$"
)


_FAILED_STACK = re.compile(r"❌\s+(?P<stack>[A-Za-z][\w-]*)")


_KNOWN_CAUSES: tuple[tuple[re.Pattern[str], str, Callable[[Settings], str]], ...] = (
    (
        re.compile(r"schema version mismatch|not compatible with the CDK library|Cloud assembly schema", re.I),
        "the cdk CLI is older than the aws-cdk-lib that wrote the cloud assembly",
        lambda s: "Run `make setup` (npm ci) so the CLI pinned in package.json, matching aws-cdk-lib, is used.",
    ),
    (
        re.compile(r"bootstrap|/cdk-bootstrap/|CDKToolkit|cdk-hnb659fds", re.I),
        "the account and region are not bootstrapped for the CDK (or the bootstrap is out of date)",
        lambda s: "Run `bwp-workshop bootstrap` (bootstrap(settings) in a notebook), then deploy again.",
    ),
    (
        re.compile(
            r"Unable to resolve AWS account|credentials|ExpiredToken|InvalidClientTokenId|security token|"
            r"Could not load credentials|UnrecognizedClientException",
            re.I,
        ),
        "no valid AWS credentials",
        credentials_hint,
    ),
    (
        re.compile(r"ECONNREFUSED|connect ECONN|socket hang up|EHOSTUNREACH", re.I),
        "the AWS endpoint could not be reached",
        credentials_hint,
    ),
    (
        re.compile(r"Event ?bus .* does not exist|EventBusName", re.I),
        "the partner event bus in EVENT_BUS_ARN does not exist",
        lambda s: (
            "Associate the partner event source with a bus (deploy.prerequisites.ensure_partner_event_bus) and set "
            "EVENT_BUS_ARN to the ARN it returns."
        ),
    ),
    (
        re.compile(r"is in (?:UPDATE_)?ROLLBACK_(?:COMPLETE|FAILED)|ROLLBACK_COMPLETE state", re.I),
        "an earlier deploy of the stack failed and CloudFormation keeps it rolled back",
        lambda s: "Destroy the stack (`bwp-workshop destroy STACK`), fix the cause, and deploy again.",
    ),
    (
        re.compile(r"already exists", re.I),
        "a resource with a fixed name already exists outside the stack",
        lambda s: (
            "Delete the leftover resource (for example the ECR repository bwp-saas-integration) or destroy "
            "the stack that owns it, then deploy again."
        ),
    ),
)


def explain_failure(action: str, stacks: list[str], output: str, settings: Settings) -> DeployError:
    """A ``DeployError`` for a failed CLI run: which stack, which resource, why and what to do."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    stack = resource = reason = ""
    for line in lines:
        failed = _FAILED_EVENT.match(line)
        if failed and not resource:
            stack = failed["stack"]
            resource = f"{failed['resource']} ({failed['type']})"
            reason = failed["reason"].strip()
    if not stack:
        for line in lines:
            match = _FAILED_STACK.search(line)
            if match:
                stack = match["stack"]
                break
    stack = stack or ", ".join(stacks)
    cause, hint = "", "Read the CLI output above; fix what it names and run the command again."
    for pattern, known_cause, make_hint in _KNOWN_CAUSES:
        if pattern.search(output):
            cause, hint = known_cause, make_hint(settings)
            break
    tail = "\n".join(lines[-12:])
    parts = [f"{action} of {stack} failed"]
    if resource:
        parts.append(f" at {resource}")
    if reason:
        parts.append(f": {reason}")
    if cause:
        parts.append(f"\n  Likely cause: {cause}.")
    parts.append(f"\n  CLI output (end):\n{tail}")
    return DeployError("".join(parts), hint=hint, stack=stack, resource=resource)


_DIFF_STACK = re.compile(r"^Stack (?P<stack>[A-Za-z][\w-]*)")


_DIFF_RESOURCE = re.compile(r"^\[(?P<sign>[+~-])\] (?P<type>[A-Z][\w]*::[\w:]+) ")


_DIFF_ACTIONS = {"+": "add", "~": "change", "-": "remove"}


def summarize_diff(text: str) -> list[dict[str, Any]]:
    """What a ``diff`` would do, per stack and resource type: ``{"stack", "resource type",
    "add", "change", "remove"}`` rows (resources only; the CLI's text has the details)."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    stack = ""
    for line in text.splitlines():
        if found := _DIFF_STACK.match(line):
            stack = found["stack"]
        elif (found := _DIFF_RESOURCE.match(line)) and stack:
            kind = found["type"].removeprefix("AWS::")
            row = counts.setdefault((stack, kind), dict.fromkeys(_DIFF_ACTIONS.values(), 0))
            row[_DIFF_ACTIONS[found["sign"]]] += 1
    return [{"stack": stack, "resource type": kind, **row} for (stack, kind), row in counts.items()]
