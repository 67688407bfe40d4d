"""An installation of the reference app in the served sandbox, as notebook 05 finds it after
04: its token pair in a token table, an empty business product table, both named in InfraStack's
outputs, and settings that name the installation and the app's client credentials."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from bwp_workshop import names
from bwp_workshop.core.token_table import TokenTable
from bwp_workshop.core.tokens import TokenSet
from bwp_workshop.outputs import outputs_file
from bwp_workshop.settings import Settings
from bwp_workshop.testing.sandbox import Installed, SandboxHandle, installed_app
from bwp_workshop.testing.tables import create_business_product_table, create_token_table


@dataclass(frozen=True)
class Installation:
    settings: Settings
    installed: Installed
    #: The business product table (a boto3 Table) the subscribe steps record into.
    products: Any
    #: Unique to this test: for names of its own (tables, event sources).
    suffix: str


@contextmanager
def installation(sandbox: SandboxHandle) -> Iterator[Installation]:
    """The app installed for a merchant, its tables made and named in the outputs."""
    base = sandbox.settings
    suffix = secrets.token_hex(4)
    with installed_app(sandbox) as installed:
        tokens = create_token_table(base, f"tokens-{suffix}")
        TokenTable(tokens).put(installed.installation_id, TokenSet.from_response(installed.tokens))
        products = create_business_product_table(base, f"business-products-{suffix}")
        path = outputs_file(base)
        path.parent.mkdir(parents=True, exist_ok=True)
        infra = {names.OUT_TOKEN_TABLE: tokens.name, names.OUT_BUSINESS_PRODUCT_TABLE: products.name}
        path.write_text(json.dumps({names.INFRA_STACK: infra}))
        settings = base.model_copy(
            update={
                "installation_id": installed.installation_id,
                "client_id": installed.client_id,
                "client_secret": SecretStr(installed.client_secret),
            }
        )
        yield Installation(settings, installed, products, suffix)
