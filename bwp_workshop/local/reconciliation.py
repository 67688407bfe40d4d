"""Whether what ``.bwp/`` remembers still matches what the local AWS holds.

The local AWS (moto server) keeps its state in memory: ``local down``, a reboot or a crash
empties it, while ``.bwp/outputs.json`` still lists the stacks deployed before. The target is
the truth and the files are a cache, so:

* at start the runtime plants a marker (an SSM parameter holding a random id) in the local
  AWS and remembers the id in ``.bwp/local-aws.json``; a marker that is missing or differs
  later means the local AWS lost its state since;
* every stack the outputs cache lists is checked against CloudFormation, and the outputs of
  stacks that no longer exist are dropped;
* the person is told in one line which notebooks to run again.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from .. import aws, names
from ..outputs import forget, load_outputs, notebooks_to_rerun, rerun_hint
from ..settings import Settings

#: The SSM parameter that holds the marker in the local AWS.
MARKER_PARAMETER = "/bwp-workshop/local-aws/id"


def marker_file(settings: Settings) -> Path:
    return settings.bwp_dir / "local-aws.json"


@dataclass(frozen=True)
class Reconciliation:
    """What a check of the cache against the local AWS found (and corrected)."""

    #: The local AWS holds none of what it held when the marker was planted.
    lost_state: bool = False
    #: Stacks the outputs cache listed that the local AWS does not have (their outputs were dropped).
    dropped: tuple[str, ...] = ()
    #: Notebooks to run again, in order.
    rerun: tuple[str, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return bool(self.dropped)

    @property
    def why(self) -> str:
        return "the local AWS was restarted, and a restart keeps nothing" if self.lost_state else "it was deleted"

    def message(self) -> str:
        """One line for the person: what is gone and what to run again ('' when nothing is)."""
        if not self.dropped:
            return ""
        return (
            f"{', '.join(self.dropped)} no longer exist{'s' if len(self.dropped) == 1 else ''} in the local AWS "
            f"({self.why}); {rerun_hint(self.rerun)}"
        )


#: What the sandbox's console says beside an installation the restart ended.
FORGOTTEN_INSTALL = (
    "uninstalled when the local AWS restarted (the app's token table went with it): install the app again"
)


def forget_installations(settings: Settings) -> str:
    """After a restart of the local AWS, the app has no installation left (its token table is
    new or gone): the sandbox's console marks each one uninstalled, saying why, so no page shows
    "installed" for an installation the app refuses. One line for the person."""
    from ..errors import WorkshopError
    from ..sandbox.client import SandboxClient

    try:
        with SandboxClient(settings) as sandbox:
            ended = sandbox.forget_installations(FORGOTTEN_INSTALL)
    except WorkshopError as error:
        return f"could not mark the installations uninstalled ({error}); uninstall them in the console"
    if not ended:
        return "no installation to mark uninstalled"
    return (
        f"{len(ended)} installation{'s' if len(ended) != 1 else ''} marked uninstalled (the app lost its tokens "
        "with the local AWS): notebook 04 installs its merchant again; install the others again in the console"
    )


def _read_marker_file(settings: Settings) -> str | None:
    try:
        value = json.loads(marker_file(settings).read_text()).get("id")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _marker_in_aws(settings: Settings) -> str | None:
    try:
        return str(aws.client("ssm", settings).get_parameter(Name=MARKER_PARAMETER)["Parameter"]["Value"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise


def plant_marker(settings: Settings) -> str:
    """A new marker in the local AWS, remembered in ``.bwp/local-aws.json``."""
    marker = uuid.uuid4().hex
    aws.client("ssm", settings).put_parameter(Name=MARKER_PARAMETER, Value=marker, Type="String", Overwrite=True)
    path = marker_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"id": marker, "planted_at": time.time()}) + "\n")
    return marker


def _stack_exists(settings: Settings, stack: str) -> bool:
    try:
        described = aws.client("cloudformation", settings).describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return False
        raise
    return bool(described) and not described[0]["StackStatus"].startswith("DELETE_COMPLETE")


def reconcile(settings: Settings, *, correct: bool = True) -> Reconciliation:
    """Check the cache against the running local AWS and (unless ``correct=False``, a look
    that changes nothing) correct it: see the module's text. The caller has made sure the
    local AWS answers."""
    remembered = _read_marker_file(settings)
    try:
        current = _marker_in_aws(settings)
        lost_state = remembered is not None and current != remembered
        if correct and (current is None or current != remembered):
            plant_marker(settings)
        cached = load_outputs(settings)
        dropped = tuple(stack for stack in names.STACKS if stack in cached and not _stack_exists(settings, stack))
    except (BotoCoreError, ClientError):
        return Reconciliation()  # the local AWS is unreachable: nothing can be decided here
    found = Reconciliation(
        lost_state=lost_state, dropped=dropped, rerun=tuple(notebooks_to_rerun(settings.project_dir, dropped))
    )
    if dropped and correct:
        forget(settings, dropped, found.why)
    return found
