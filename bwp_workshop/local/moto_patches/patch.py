"""One change to moto, as the tables of the modules beside this one list them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import moto

from ...errors import MotoPatchError

#: The moto release every patch was written against (pinned in pyproject.toml).
MOTO_VERSION = "5.2.5"

_MISSING = object()


@dataclass(frozen=True)
class Patch:
    """``owner.attribute`` becomes ``replacement``, or ``wrapper(<what moto has there>)``.

    ``description`` says in one line what the patch makes right; ``guard`` names the test that
    fails without it (``tests/local/<file>.py::<test>``); ``uses`` names the other moto
    attributes the new code relies on; ``check`` refuses (with :class:`MotoPatchError`) a moto
    the patch no longer fits in ways an attribute check cannot see. ``adds`` marks an attribute
    moto does not have: if moto gains it, the patch would hide moto's own and is refused.
    A patch with neither ``replacement`` nor ``wrapper`` changes nothing itself: it stands for a
    class moto picks up on its own (a CloudFormation resource model) and ``check`` proves it does.
    """

    owner: Any
    attribute: str
    description: str
    guard: str
    replacement: Any = None
    wrapper: Callable[[Any], Any] | None = None
    adds: bool = False
    uses: tuple[tuple[Any, str], ...] = ()
    check: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        if self.replacement is not None and self.wrapper is not None:
            raise ValueError(f"patch of {self.name}: a replacement or a wrapper, not both")

    @property
    def name(self) -> str:
        return f"{getattr(self.owner, '__name__', self.owner)}.{self.attribute}"

    def verify(self) -> None:
        """Refuse a moto this patch no longer fits. Changes nothing."""
        if self.adds:
            current = inspect.getattr_static(self.owner, self.attribute, _MISSING)
            if current is not _MISSING and current is not self.replacement:  # ours when applied before
                raise MotoPatchError(
                    f"moto {moto.__version__} now has its own {self.name}; the workshop's patch would hide it.",
                    hint=f"Drop the patch of {self.name} in {self.module}.",
                )
        uses = self.uses if self.adds else ((self.owner, self.attribute), *self.uses)
        for owner, attribute in uses:
            if not hasattr(owner, attribute):
                raise MotoPatchError(
                    f"moto {moto.__version__} has no {getattr(owner, '__name__', owner)}.{attribute}; "
                    f"a local-AWS patch in {self.module} no longer applies.",
                    hint=f"Install the pinned moto[server]=={MOTO_VERSION} (make setup), or re-check the patch.",
                )
        if self.check is not None:
            self.check()

    def apply(self) -> None:
        if self.wrapper is not None:
            setattr(self.owner, self.attribute, self.wrapper(inspect.getattr_static(self.owner, self.attribute)))
        elif self.replacement is not None:
            setattr(self.owner, self.attribute, self.replacement)

    @property
    def module(self) -> str:
        """The module that defines the patch (named in errors)."""
        code = self.wrapper or self.check or getattr(self.replacement, "fget", self.replacement)
        return str(getattr(code, "__module__", None) or __name__.rpartition(".")[0])


def refuse(message: str, hint: str) -> MotoPatchError:
    """The error a ``check`` raises."""
    return MotoPatchError(f"moto {moto.__version__}: {message}", hint=hint)
