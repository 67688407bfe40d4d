import hashlib
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bwp_workshop.core import verification
from bwp_workshop.core.verification import VerificationError, request_hash, strip_token_parameter, verify


def _keypair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return key, pem


KEY, PEM = _keypair()
URL = "http://app.example.test/install?code=abc&state=xyz"


def _token(url: str = URL, body: bytes | None = None, key=KEY, **claims) -> str:
    payload = {
        "installationId": "inst-1",
        "requestHash": request_hash(url, body),
        "iat": int(time.time()),
        "exp": int(time.time()) + 300,
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm="ES256")


def test_request_hash_is_sha256_of_url_without_token_plus_body_hash() -> None:
    body = b'{"installationId":"inst-1"}'
    expected = hashlib.sha256((URL + hashlib.sha256(body).hexdigest()).encode()).hexdigest()
    assert request_hash(URL + "&verification-token=eyJ.x.y", body) == expected
    assert request_hash(URL) == hashlib.sha256(URL.encode()).hexdigest()


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        ("http://h/settings?verification-token=t", "http://h/settings"),
        ("http://h/install?code=1&state=2&verification-token=t", "http://h/install?code=1&state=2"),
        ("http://h/install?verification-token=t&code=1", "http://h/install?code=1"),
        ("http://h/install?code=a%20b&state=2", "http://h/install?code=a%20b&state=2"),
        ("http://h/", "http://h/"),
    ],
)
def test_strip_token_parameter_keeps_everything_else_byte_exact(url: str, stripped: str) -> None:
    assert strip_token_parameter(url) == stripped


def test_a_valid_token_yields_the_installation() -> None:
    body = b'{"a": 1}'
    verified = verify(_token(body=body), public_key_pem=PEM, url=URL, body=body)
    assert verified.installation_id == "inst-1"


def _hs256() -> str:
    return jwt.encode({"installationId": "i", "requestHash": request_hash(URL), "exp": time.time() + 60}, "k" * 32)


def _none_alg() -> str:
    return jwt.encode({"installationId": "i", "requestHash": request_hash(URL), "exp": time.time() + 60}, None, "none")


@pytest.mark.parametrize(
    ("name", "make_token", "url", "body", "code"),
    [
        ("missing", lambda: None, URL, None, "missing_token"),
        ("garbled", lambda: "not-a-jwt", URL, None, "malformed_token"),
        ("hs256", _hs256, URL, None, "wrong_algorithm"),
        ("none", _none_alg, URL, None, "wrong_algorithm"),
        ("other key", lambda: _token(key=_keypair()[0]), URL, None, "bad_signature"),
        ("expired", lambda: _token(exp=int(time.time()) - 120), URL, None, "expired_token"),
        ("no exp", lambda: _token(exp=None), URL, None, "missing_claim"),
        ("no installation", lambda: _token(installationId=None), URL, None, "missing_claim"),
        ("no hash", lambda: _token(requestHash=None), URL, None, "missing_claim"),
        ("other url", lambda: _token(), URL.replace("xyz", "xyZ"), None, "request_hash_mismatch"),
        (
            "query order",
            lambda: _token(),
            "http://app.example.test/install?state=xyz&code=abc",
            None,
            "request_hash_mismatch",
        ),
        ("host case", lambda: _token(), URL.replace("app.", "App."), None, "request_hash_mismatch"),
        ("body added", lambda: _token(), URL, b"{}", "request_hash_mismatch"),
        ("body changed", lambda: _token(body=b'{"a":1}'), URL, b'{"a":2}', "request_hash_mismatch"),
    ],
)
def test_bad_tokens_are_refused_with_a_reason(name: str, make_token, url: str, body, code: str) -> None:
    token = make_token()  # made now: a token made at collection could expire before its test runs
    with pytest.raises(VerificationError) as caught:
        verify(token, public_key_pem=PEM, url=url, body=body)
    assert caught.value.code == code, name
    if token:
        assert token not in str(caught.value)


def test_no_configured_key_is_its_own_error() -> None:
    with pytest.raises(VerificationError, match="BWP_PUBLIC_KEY"):
        verify(_token(), public_key_pem="", url=URL)
    assert verification.ALGORITHM == "ES256"


def test_the_core_imports_nothing_heavy() -> None:
    """The core is bundled into the Lambda and the image: no pydantic-settings, pandas, CDK,
    Jupyter or moto."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "import bwp_workshop.core.verification, bwp_workshop.core.tokens, bwp_workshop.core.token_table\n"
        "import bwp_workshop.core.credentials, bwp_workshop.names\n"
        "heavy = ('pandas', 'aws_cdk', 'jupyter_client', 'IPython', 'moto', 'pydantic_settings', 'pydantic')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
