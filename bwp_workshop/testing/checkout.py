"""The checkout this package runs from."""

from __future__ import annotations

from pathlib import Path

#: The checkout this package runs from (an editable install): cdk.json, node_modules, lambdas/.
CHECKOUT = Path(__file__).resolve().parents[2]
