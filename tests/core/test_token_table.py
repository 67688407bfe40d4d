"""The token table on the local AWS, including concurrent refreshers."""

import threading
import time

import pytest

from bwp_workshop import aws
from bwp_workshop.core.token_table import NoTokenError, TokenTable
from bwp_workshop.core.tokens import TokenEndpointError, TokenSet
from bwp_workshop.settings import Settings
from bwp_workshop.testing.tables import create_token_table


class CountingEndpoint:
    """A token endpoint double that rotates refresh tokens and refuses a spent one, as BwP's
    (and the sandbox's) does; it counts refreshes."""

    def __init__(self, delay: float = 0.05, fail: bool = False) -> None:
        self.delay = delay
        self.fail = fail
        self.refreshes = 0
        self.valid = {"rt-0"}
        self.lock = threading.Lock()

    def refresh(self, refresh_token: str) -> TokenSet:
        with self.lock:
            self.refreshes += 1
            n = self.refreshes
            if self.fail:
                raise TokenEndpointError("down", status=503, error="server_error", transient=True)
            if refresh_token not in self.valid:
                raise TokenEndpointError("spent", status=400, error="invalid_grant", transient=False)
            self.valid.discard(refresh_token)
            self.valid.add(f"rt-{n}")
        time.sleep(self.delay)
        return TokenSet(access_token=f"at-{n}", refresh_token=f"rt-{n}", expires_in=900)


@pytest.fixture
def tokens(local_settings: Settings) -> TokenTable:
    create_token_table(local_settings, "tokens")
    return TokenTable(aws.resource("dynamodb", local_settings).Table("tokens"), lease_seconds=3, poll_seconds=0.02)


def _expiring(expires_in: int = 10) -> TokenSet:
    return TokenSet(access_token="at-0", refresh_token="rt-0", expires_in=expires_in)


def test_put_and_latest_keep_installed_at_across_writes(tokens: TokenTable) -> None:
    first = tokens.put("inst-1", _expiring(900))
    second = tokens.put("inst-1", TokenSet(access_token="at-9", refresh_token="rt-9", expires_in=900))
    assert second.updated_at > first.updated_at
    latest = tokens.latest("inst-1")
    assert latest is not None and latest.access_token == "at-9"
    assert latest.installed_at == first.installed_at
    assert tokens.latest("other") is None


def test_put_with_the_previous_item_already_read_makes_no_read(tokens: TokenTable) -> None:
    first = tokens.put("inst-1", _expiring(900), installed_at=1_700_000_000)
    previous = tokens.latest("inst-1")
    calls = tokens.calls
    second = tokens.put("inst-1", _expiring(900), previous=previous)
    assert tokens.calls == calls + 1  # the write only
    assert second.installed_at == 1_700_000_000 and second.updated_at > first.updated_at
    fresh = tokens.put("inst-2", _expiring(900), previous=None)
    assert fresh.installed_at == fresh.updated_at // 1000


def test_a_fresh_token_is_not_refreshed(tokens: TokenTable) -> None:
    tokens.put("inst-1", _expiring(900))
    endpoint = CountingEndpoint()
    assert tokens.valid_token("inst-1", endpoint).access_token == "at-0"  # type: ignore[arg-type]
    assert endpoint.refreshes == 0


def test_an_expiring_token_is_refreshed_and_stored(tokens: TokenTable) -> None:
    tokens.put("inst-1", _expiring())
    endpoint = CountingEndpoint()
    token = tokens.valid_token("inst-1", endpoint, margin_seconds=60)  # type: ignore[arg-type]
    assert (token.access_token, token.refresh_token) == ("at-1", "rt-1")
    assert tokens.latest("inst-1").refresh_token == "rt-1"  # type: ignore[union-attr]


def test_a_superseded_token_item_expires(tokens: TokenTable) -> None:
    """The review's L2: the spent pair is marked to expire (the table's time to live), the
    newest item is kept."""
    from bwp_workshop.names import SUPERSEDED_TOKEN_TTL_SECONDS, TOKEN_TTL_ATTRIBUTE

    tokens.put("inst-1", _expiring())
    before = int(time.time())
    new = tokens.valid_token("inst-1", CountingEndpoint(), margin_seconds=60)  # type: ignore[arg-type]
    items = sorted(tokens.table.scan(ConsistentRead=True)["Items"], key=lambda item: item["updated_at"])
    spent, newest = items
    assert spent["superseded_by"] == new.updated_at
    assert before + SUPERSEDED_TOKEN_TTL_SECONDS <= int(spent[TOKEN_TTL_ATTRIBUTE]) <= int(time.time()) + 3600
    assert TOKEN_TTL_ATTRIBUTE not in newest


def test_ten_concurrent_refreshers_spend_the_refresh_token_once(tokens: TokenTable) -> None:
    tokens.put("inst-1", _expiring())
    endpoint = CountingEndpoint(delay=0.2)
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(10)

    def worker() -> None:
        try:
            start.wait()
            results.append(tokens.valid_token("inst-1", endpoint).access_token)  # type: ignore[arg-type]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert endpoint.refreshes == 1
    assert results == ["at-1"] * 10
    assert tokens.latest("inst-1").refresh_token == "rt-1"  # type: ignore[union-attr]


def test_a_failed_refresh_releases_the_claim_for_the_next_caller(tokens: TokenTable) -> None:
    tokens.put("inst-1", _expiring())
    endpoint = CountingEndpoint(fail=True)
    with pytest.raises(TokenEndpointError):
        tokens.valid_token("inst-1", endpoint)  # type: ignore[arg-type]
    endpoint.fail = False
    assert tokens.valid_token("inst-1", endpoint).access_token == "at-2"  # type: ignore[arg-type]


def test_delete_installation_removes_every_item_and_is_repeatable(tokens: TokenTable) -> None:
    for n in range(3):
        tokens.put("inst-1", TokenSet(access_token=f"a{n}", refresh_token=f"r{n}", expires_in=900))
    tokens.put("inst-2", _expiring(900))
    assert tokens.delete_installation("inst-1") == 3
    assert tokens.delete_installation("inst-1") == 0
    assert tokens.latest("inst-1") is None
    assert tokens.latest("inst-2") is not None
    with pytest.raises(NoTokenError):
        tokens.valid_token("inst-1", CountingEndpoint())  # type: ignore[arg-type]
