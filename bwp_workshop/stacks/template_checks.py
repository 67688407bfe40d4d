"""cfn-lint and checkov on the synthesized templates, with the one list of accepted findings.

Both tools run with every rule on; each finding is then looked up in ``template_checks.yaml``
(rule, reason, targets). What is not listed fails the check, and so does a listed rule that
no finding matches any more. cfn-lint runs in process (it is a dependency of the package);
checkov's pins conflict with the project's, so it runs from its own virtual environment,
``.venv-checkov`` in the project folder, which ``make setup`` creates from
``tools/checkov/requirements.txt``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import WorkshopError

#: The accepted findings.
ACKNOWLEDGEMENTS = Path(__file__).with_name("template_checks.yaml")
TOOLS = ("cfn-lint", "checkov")
TARGETS = ("local", "aws")
#: checkov's virtual environment, relative to the project folder (the Makefile's CHECKOV_VENV).
CHECKOV_VENV = Path(".venv-checkov")
#: A reason must say something.
MIN_REASON = 30


class TemplateCheckError(WorkshopError):
    """The template checks could not run, or their list of accepted findings is malformed."""


@dataclass(frozen=True)
class Acknowledgement:
    tool: str
    rule: str
    reason: str
    targets: tuple[str, ...] = TARGETS


@dataclass(frozen=True)
class Finding:
    tool: str
    rule: str
    target: str
    stack: str
    resource: str
    message: str
    reason: str = ""  # the acknowledgement's reason, when the finding is accepted

    @property
    def accepted(self) -> bool:
        return bool(self.reason)


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    #: Acknowledgements that matched no finding on a target they name: (tool, rule, target).
    unused: list[tuple[str, str, str]] = field(default_factory=list)
    #: The targets whose templates were checked.
    targets: tuple[str, ...] = TARGETS

    @property
    def failures(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.accepted]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.unused

    def table(self) -> str:
        """Findings per tool, rule and target: how many, and whether accepted."""
        counts = Counter((f.tool, f.rule, f.target, f.accepted) for f in self.findings)
        rows = sorted({(tool, rule) for tool, rule, _, _ in counts})
        lines = [f"{'tool':<9} {'rule':<12} " + " ".join(f"{target:>5}" for target in self.targets) + "  status"]
        for tool, rule in rows:
            per = [
                sum(n for (t, r, g, _), n in counts.items() if (t, r, g) == (tool, rule, target))
                for target in self.targets
            ]
            accepted = all(a for (t, r, _, a) in counts if (t, r) == (tool, rule))
            cells = " ".join(f"{n:>5}" for n in per)
            lines.append(f"{tool:<9} {rule:<12} {cells}  {'accepted' if accepted else 'FAILS'}")
        for tool in TOOLS:
            for target in self.targets:
                total = sum(1 for f in self.findings if (f.tool, f.target) == (tool, target))
                failing = sum(1 for f in self.failures if (f.tool, f.target) == (tool, target))
                lines.append(f"{tool} on {target}: {total} findings, {failing} not accepted")
        for tool, rule, target in self.unused:
            lines.append(f"{tool} {rule}: listed for {target} but no longer found (remove it from the list)")
        return "\n".join(lines)

    def raise_for_failure(self) -> None:
        if self.ok:
            return
        lines = [f"{f.tool} {f.rule} on {f.target}: {f.stack}/{f.resource}: {f.message}" for f in self.failures]
        lines += [f"{tool} {rule} on {target}: listed but not found" for tool, rule, target in self.unused]
        raise TemplateCheckError(
            "The templates fail their checks:\n  " + "\n  ".join(lines),
            hint=f"Fix the resource, or accept the rule with a written reason in {ACKNOWLEDGEMENTS.name}.",
        )


def load_acknowledgements(path: Path = ACKNOWLEDGEMENTS) -> dict[tuple[str, str], Acknowledgement]:
    """The accepted findings by (tool, rule); refuses entries without a reason, unknown tools or
    targets, and cfn-lint errors."""
    import yaml

    data = yaml.safe_load(path.read_text()) or {}
    unknown = set(data) - set(TOOLS)
    if unknown:
        raise TemplateCheckError(f"{path.name}: unknown tool(s) {sorted(unknown)}; known: {list(TOOLS)}.")
    found: dict[tuple[str, str], Acknowledgement] = {}
    for tool, rules in data.items():
        for rule, entry in (rules or {}).items():
            entry = entry or {}
            reason = " ".join(str(entry.get("reason", "")).split())
            targets = tuple(entry.get("targets", TARGETS))
            if len(reason) < MIN_REASON:
                raise TemplateCheckError(f"{path.name}: {tool} {rule} needs a reason (a sentence or more).")
            if not targets or set(targets) - set(TARGETS):
                raise TemplateCheckError(f"{path.name}: {tool} {rule}: targets must be among {list(TARGETS)}.")
            if tool == "cfn-lint" and str(rule).startswith("E"):
                raise TemplateCheckError(
                    f"{path.name}: cfn-lint {rule} is an error (CloudFormation would refuse the template); fix it."
                )
            found[(tool, str(rule))] = Acknowledgement(tool, str(rule), reason, targets)
    return found


def templates_of(assembly: Path) -> list[Path]:
    """The stack templates of a cloud assembly folder."""
    templates = sorted(assembly.glob("*.template.json"))
    if not templates:
        raise TemplateCheckError(f"No templates in {assembly}.", hint="Synthesize the stacks first.")
    return templates


def run_cfn_lint(templates: Iterable[Path], *, region: str) -> list[tuple[str, str, str, str]]:
    """(rule, stack, resource, message) of every cfn-lint match, all rules on."""
    from cfnlint.api import ManualArgs, lint_file

    found = []
    for template in templates:
        for match in lint_file(template, ManualArgs(regions=[region])):
            path = list(getattr(match, "path", None) or [])
            resource = str(path[1]) if len(path) > 1 and path[0] == "Resources" else "/".join(map(str, path))
            found.append((match.rule.id, template.name.removesuffix(".template.json"), resource, match.message))
    return found


def checkov_executable(project_dir: Path) -> str:
    """checkov from the project's ``.venv-checkov`` (or ``BWP_CHECKOV``, or the PATH)."""
    candidates = [os.environ.get("BWP_CHECKOV", ""), str(project_dir / CHECKOV_VENV / "bin" / "checkov")]
    for candidate in filter(None, candidates):
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which("checkov")
    if on_path:
        return on_path
    raise TemplateCheckError(
        f"checkov is not installed ({project_dir / CHECKOV_VENV} is missing).",
        hint="Run `make setup`: it installs checkov in its own environment from tools/checkov/requirements.txt.",
    )


def run_checkov(templates: list[Path], *, project_dir: Path) -> list[tuple[str, str, str, str]]:
    """(rule, stack, resource, message) of every failed checkov check, no check skipped."""
    argv = [checkov_executable(project_dir), "--quiet", "--compact", "--framework", "cloudformation"]
    argv += ["--output", "json", "--skip-download"]
    for template in templates:
        argv += ["--file", str(template)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BC_", "CKV_", "PRISMA_"))}
    environment["LOG_LEVEL"] = "ERROR"  # checkov reads it; the workshop's own value could be DEBUG
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False, env=environment)
    try:
        reports = json.loads(result.stdout)
    except ValueError:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise TemplateCheckError(f"checkov did not report (exit {result.returncode}):\n{tail}") from None
    found = []
    for report in reports if isinstance(reports, list) else [reports]:
        for check in report.get("results", {}).get("failed_checks", []):
            stack = Path(check["file_path"]).name.removesuffix(".template.json")
            resource = check["resource"].split(".", 1)[-1]
            found.append((check["check_id"], stack, resource, check["check_name"]))
    return found


def check_templates(
    assemblies: Mapping[str, Path],
    *,
    region: str,
    project_dir: Path,
    tools: Iterable[str] = TOOLS,
    acknowledgements: Mapping[tuple[str, str], Acknowledgement] | None = None,
) -> CheckResult:
    """Run ``tools`` on the templates of each target's assembly (``{"local": path, "aws": path}``)
    and judge every finding against the list."""
    acknowledged = load_acknowledgements() if acknowledgements is None else acknowledgements
    tools = tuple(tools)
    result = CheckResult(targets=tuple(assemblies))
    for target, assembly in assemblies.items():
        templates = templates_of(assembly)
        for tool in tools:
            raw = (
                run_cfn_lint(templates, region=region)
                if tool == "cfn-lint"
                else run_checkov(templates, project_dir=project_dir)
            )
            for rule, stack, resource, message in raw:
                entry = acknowledged.get((tool, rule))
                reason = entry.reason if entry and target in entry.targets else ""
                result.findings.append(Finding(tool, rule, target, stack, resource, message, reason))
    seen = {(f.tool, f.rule, f.target) for f in result.findings}
    for (tool, rule), entry in acknowledged.items():
        if tool in tools:
            result.unused += [(tool, rule, t) for t in entry.targets if t in assemblies and (tool, rule, t) not in seen]
    return result
