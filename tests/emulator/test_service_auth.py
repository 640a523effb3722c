"""Credentials of the served service and the token endpoint under attack (issue 12,
class 5).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys

import pytest
import requests

import byocframe
from byocframe.cli import main
from byocframe.cli.serve import service_credentials as _service_credentials
from byocframe.emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FailureThrottle,
    check_credentials,
    create_service,
)
from byocframe.emulator.auth import TOKEN_LIFETIME, TokenIssuer, verified_claims

STRONG = "a-long-enough-secret-0123"


def token_request(service, client_id, secret, **kwargs):
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return requests.post(service.token_url, data=form, **kwargs)


# ------------------------------------------------------------------ who may listen where
@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_default_credentials_are_refused_beyond_loopback(host):
    with pytest.raises(ValueError, match="well-known default credentials"):
        create_service(host=host)  # refused before anything binds


def test_weak_secret_is_refused_beyond_loopback():
    with pytest.raises(ValueError, match="1-character secret"):
        create_service(host="0.0.0.0", client_id="me", client_secret="x")


def test_own_strong_credentials_may_listen_anywhere():
    check_credentials("0.0.0.0", "me", STRONG)  # the check only: tests bind loopback alone
    check_credentials("127.0.0.1", "me", "x")  # loopback keeps any secret


def test_serve_refuses_a_public_host_with_defaults(capsys):
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "well-known default credentials" in err
    assert DEFAULT_CLIENT_SECRET not in err


def args(**given):
    values = {"client_id": None, "client_secret": None, "client_secret_file": None}
    return argparse.Namespace(**{**values, **given})


def test_secret_sources_in_order(tmp_path, capsys):
    env = {"BYOCFRAME_SERVICE_CLIENT_ID": "env-id", "BYOCFRAME_SERVICE_CLIENT_SECRET": "env-s"}
    assert _service_credentials(args(), env) == ("env-id", "env-s", "the environment")
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n", encoding="utf-8")
    assert _service_credentials(args(client_secret_file=secret_file), env)[1] == "from-file"
    assert _service_credentials(args(client_secret="flag"), env)[1] == "flag"
    assert "visible to other users" in capsys.readouterr().err
    assert _service_credentials(args(), {}) == (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        "the well-known local default",
    )
    (tmp_path / "empty").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="is empty"):
        _service_credentials(args(client_secret_file=tmp_path / "empty"), {})


def test_served_process_takes_its_secret_from_the_environment(tmp_path):
    env = {**os.environ, "BYOCFRAME_SERVICE_CLIENT_SECRET": STRONG}
    env.pop("BYOCFRAME_SERVICE_CLIENT_ID", None)
    command = [sys.executable, "-m", "byocframe.cli", "serve", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        base_url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        url = base_url + "/oauth/token"
        form = {"grant_type": "client_credentials", "client_id": DEFAULT_CLIENT_ID}
        good = requests.post(url, data={**form, "client_secret": STRONG})
        default = requests.post(url, data={**form, "client_secret": DEFAULT_CLIENT_SECRET})
        assert good.status_code == 200
        assert default.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
        out = process.stdout.read()  # what the first readline left buffered, and the rest
        process.stdout.close()
    assert STRONG not in out  # the secret is never printed
    assert "secret from the environment" in out


# ------------------------------------------------------------------ the token endpoint
@pytest.fixture
def clocked():
    now = [1_000.0]
    throttle = FailureThrottle(free=3, base=10.0, cap=40.0, clock=lambda: now[0])
    with byocframe.local_service(throttle=throttle) as service:
        yield service, now


def test_repeated_failures_are_slowed_down(clocked):
    service, now = clocked
    codes = [token_request(service, service.client_id, f"guess{i}").status_code for i in range(3)]
    assert codes == [401, 401, 401]
    # three free failures are spent: even the right secret waits now
    refused = token_request(service, service.client_id, service.client_secret)
    assert refused.status_code == 429
    assert refused.json()["error"] == "slow_down"
    assert int(refused.headers["Retry-After"]) == 10_000  # milliseconds, as the API says
    now[0] += 10.0
    assert token_request(service, service.client_id, "guess5").status_code == 401
    assert token_request(service, service.client_id, service.client_secret).status_code == 429
    now[0] += 20.0  # the wait doubled
    assert token_request(service, service.client_id, service.client_secret).status_code == 200
    # a success forgives: three more free failures
    codes = [token_request(service, service.client_id, "again").status_code for _ in range(3)]
    assert codes == [401, 401, 401]


def test_the_wait_is_capped():
    now = [0.0]
    throttle = FailureThrottle(free=0, base=1.0, cap=8.0, clock=lambda: now[0])
    for _ in range(5000):  # far beyond any float power of two
        throttle.failed("a")
    assert throttle.wait("a") == 8.0
    assert throttle.wait("b") == 0.0


def test_throttle_memory_is_bounded():
    throttle = FailureThrottle(capacity=100)
    for i in range(1000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert throttle.wait("10.0.0.0") == 0.0  # the oldest was forgotten
    assert len(throttle._failures) == 100


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("é", "ü"), ("byocframe-local", "secret-☃"), ("%00", "%ff%fe"), ("", "")],
    ids=["accents", "snowman", "control-and-not-utf8", "empty"],
)
def test_any_text_as_credentials_is_a_401(service, client_id, secret):
    if "%" in client_id:  # raw percent-escapes: bytes that are not UTF-8 text
        form = f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}"
        answer = requests.post(
            service.token_url,
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    else:
        answer = token_request(service, client_id, secret)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "header",
    ["Basic !!!not-base64!!!", "Basic " + base64.b64encode("é:ü".encode()).decode(), "Basic "],
    ids=["not-base64", "non-ascii", "empty"],
)
def test_bad_basic_headers_are_a_401(service, header):
    answer = requests.post(
        service.token_url,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": header},
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_basic_header_with_the_right_credentials(service):
    raw = f"{service.client_id}:{service.client_secret}".encode()
    answer = requests.post(
        service.token_url,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
    )
    assert answer.status_code == 200


# ------------------------------------------------------------------ the tokens themselves
def _segment(text):
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def test_issued_tokens_are_rfc7519_hs256_jwts(service):
    """Read with base64 and json alone (RFC 7519 section 3), not with the service's code."""
    body = token_request(service, service.client_id, service.client_secret).json()
    header, claims, signature = body["access_token"].split(".")
    assert _segment(header) == {"alg": "HS256", "typ": "JWT"}
    claims = _segment(claims)
    assert claims["azp"] == claims["sub"] == service.client_id
    assert claims["exp"] - claims["iat"] == body["expires_in"] == TOKEN_LIFETIME
    assert len(base64.urlsafe_b64decode(signature + "=")) == 32  # an HMAC-SHA256


# RFC 7515 appendix A.1: an HS256 JWS, its key (a JWK "k") and its payload.
RFC7515_KEY = base64.urlsafe_b64decode(
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow=="
)
RFC7515_TOKEN = (
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)


def test_the_rfc_7515_example_verifies_and_its_alterations_do_not():
    claims = verified_claims(RFC7515_TOKEN, RFC7515_KEY)
    assert claims == {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}
    head, payload, signature = RFC7515_TOKEN.split(".")
    other = base64.urlsafe_b64encode(b'{"iss":"eve"}').decode().rstrip("=")
    assert verified_claims(f"{head}.{other}.{signature}", RFC7515_KEY) is None
    assert verified_claims(RFC7515_TOKEN, RFC7515_KEY[:-1] + b"x") is None
    alg_none = base64.urlsafe_b64encode(b'{"alg":"none"}').decode().rstrip("=")
    assert verified_claims(f"{alg_none}.{payload}.", RFC7515_KEY) is None


@pytest.mark.parametrize("padding", ["=", "=="])
def test_a_token_with_padding_added_is_refused(service, padding):
    """Finding 330: a compact JWS holds no '=' (RFC 7515 section 2); the hand-written check
    decoded ``token==`` as the token and accepted a bearer string the service never issued."""
    token = token_request(service, service.client_id, service.client_secret).json()
    token = token["access_token"]
    url = service.base_url + "/api/v1/byoc/collections"
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    answer = requests.get(url, headers={"Authorization": f"Bearer {token}{padding}"})
    assert answer.status_code == 401


@pytest.mark.parametrize("start", [1e9, 4e9], ids=["2001", "2096"])
def test_expiry_follows_the_issuers_clock_not_the_machines(start):
    now = [start]  # long before or after the machine's clock: the token lives its lifetime
    issuer = TokenIssuer("me", STRONG, lifetime=60, clock=lambda: now[0])
    token = issuer.issue()["access_token"]
    assert issuer.check(token) == "me"
    now[0] += 59
    assert issuer.check(token) == "me"
    now[0] += 1
    assert issuer.check(token) is None
    assert TokenIssuer("me", STRONG + "x", clock=lambda: start).check(token) is None
