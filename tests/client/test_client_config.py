"""Where settings come from, which deployment gets the credentials, and client-likes."""

from __future__ import annotations

import dataclasses
import threading
import urllib.parse

import pytest

import byocframe
from byocframe import Client, NotFoundError
from byocframe.cli import main
from byocframe.client.api import resolve_client
from byocframe.client.config import resolve_settings
from byocframe.client.deployments import CDSE_TOKEN_URL, DEPLOYMENTS, SENTINEL_HUB_TOKEN_URL
from byocframe.client.transport import HTTPTransport
from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

TOKEN_PATH = "/auth/realms/main/protocol/openid-connect/token"


class Reroute(HTTPTransport):
    """Sends requests for real hosts to local stand-ins, and notes what was asked for."""

    def __init__(self, routes, **kwargs):
        super().__init__(**kwargs)
        self.routes = routes  # (origin prefix, path prefix) -> stand-in base URL
        self.asked: list[str] = []

    def send(self, request, **kwargs):
        self.asked.append(request.url)
        parts = urllib.parse.urlsplit(request.url)
        origin = f"{parts.scheme}://{parts.netloc}"
        for (host, prefix), target in self.routes.items():
            if origin == host and parts.path.startswith(prefix):
                path = TOKEN_PATH if "/protocol/openid-connect/token" in parts.path else parts.path
                url = target + path + (f"?{parts.query}" if parts.query else "")
                request = dataclasses.replace(request, url=url)
                break
        else:
            raise AssertionError(f"no stand-in for {request.url}")
        return super().send(request, **kwargs)


@pytest.fixture
def stand_ins():
    """Three local services with the same credentials: tokens of one work on all."""
    with (
        byocframe.local_service() as api,
        byocframe.local_service() as identity,
        byocframe.local_service() as west,
    ):
        west.store.set_meta("location", "aws-us-west-2")
        yield api, identity, west


# ---------------------------------------------------------------------- deployments
@pytest.mark.parametrize(
    ("options", "base_url", "token_url"),
    [
        ({}, "https://services.sentinel-hub.com", SENTINEL_HUB_TOKEN_URL),
        ({"deployment": "cdse"}, "https://sh.dataspace.copernicus.eu", CDSE_TOKEN_URL),
        ({"base_url": "https://sh.dataspace.copernicus.eu/"}, None, CDSE_TOKEN_URL),
        ({"deployment": "creodias"}, "https://creodias.sentinel-hub.com", SENTINEL_HUB_TOKEN_URL),
        ({"base_url": "https://creodias.sentinel-hub.com"}, None, SENTINEL_HUB_TOKEN_URL),
        ({"deployment": "aws-us-west-2"}, None, SENTINEL_HUB_TOKEN_URL),
        ({"base_url": "https://code-de.sentinel-hub.com"}, None, SENTINEL_HUB_TOKEN_URL),
        ({"base_url": "https://example.org"}, None, SENTINEL_HUB_TOKEN_URL),  # as sentinelhub-py
        ({"base_url": "http://127.0.0.1:5"}, None, "http://127.0.0.1:5" + TOKEN_PATH),
        ({"deployment": "cdse", "token_url": "https://id.example/t"}, None, "https://id.example/t"),
    ],
)
def test_token_urls_follow_the_deployment(options, base_url, token_url):
    client = Client(client_id="id", client_secret="secret", **options)
    assert client.token_url == token_url
    if base_url:
        assert client.base_url == base_url


def test_every_deployment_is_https_and_named():
    for name, deployment in DEPLOYMENTS.items():
        client = Client(deployment=name, client_id="id", client_secret="secret")
        assert client.base_url.startswith("https://")
        assert client.deployment is deployment
    with pytest.raises(ValueError, match="unknown deployment 'mars'; known: aws-eu-central-1"):
        Client(deployment="mars", client_id="id", client_secret="secret")
    with pytest.raises(ValueError, match="not both"):
        Client(deployment="cdse", base_url="https://x.org", client_id="i", client_secret="s")


def test_a_cdse_configuration_authenticates_at_the_cdse_identity_service(stand_ins):
    api, identity, _ = stand_ins
    transport = Reroute(
        {
            ("https://sh.dataspace.copernicus.eu", "/"): api.base_url,
            ("https://identity.dataspace.copernicus.eu", "/auth/realms/CDSE/"): identity.base_url,
        }
    )
    client = Client(
        base_url="https://sh.dataspace.copernicus.eu",
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        transport=transport,
    )
    client.create_collection({"name": "on cdse", "s3Bucket": "b"})
    assert [c["name"] for c in client.iter_collections()] == ["on cdse"]
    assert transport.asked[0] == CDSE_TOKEN_URL
    assert (identity.tokens_issued, api.tokens_issued) == (1, 0)
    assert all(
        u.startswith("https://sh.dataspace.copernicus.eu/api/v1/byoc/") for u in transport.asked[1:]
    )


def test_a_creodias_profile_authenticates_at_services_sentinel_hub(stand_ins, tmp_path):
    api, identity, _ = stand_ins
    path = tmp_path / "config.toml"
    path.write_text(
        '[creodias]\nsh_base_url = "https://creodias.sentinel-hub.com"\n'
        f'sh_client_id = "{DEFAULT_CLIENT_ID}"\nsh_client_secret = "{DEFAULT_CLIENT_SECRET}"\n'
    )
    transport = Reroute(
        {
            ("https://creodias.sentinel-hub.com", "/"): api.base_url,
            ("https://services.sentinel-hub.com", "/auth/"): identity.base_url,
        }
    )
    client = Client.from_config(profile="creodias", path=path, transport=transport)
    assert list(client.iter_collections()) == []
    assert transport.asked[0] == SENTINEL_HUB_TOKEN_URL
    assert not transport.asked[0].startswith("https://creodias")
    assert identity.tokens_issued == 1


def test_a_collection_on_another_deployment_is_found_and_reached(stand_ins):
    eu, _, west = stand_ins
    cid = west.client().create_collection({"name": "far", "s3Bucket": "b"})["id"]
    west.client().create_tile(cid, {"path": "t/(BAND).tif"})
    transport = Reroute(
        {
            ("https://services.sentinel-hub.com", "/api/v1/byoc/global/"): west.base_url,
            ("https://services.sentinel-hub.com", "/"): eu.base_url,
            ("https://services-uswest2.sentinel-hub.com", "/"): west.base_url,
        }
    )
    client = Client(
        client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET, transport=transport
    )
    with pytest.raises(NotFoundError, match=r"is on aws-us-west-2.*deployment='aws-us-west-2'"):
        byocframe.read_tiles(client, cid)
    with pytest.raises(NotFoundError, match="is on aws-us-west-2"):
        client.get_collection(cid)
    assert client.locate(cid) == "aws-us-west-2"
    there = client.at(cid)
    assert there.base_url == "https://services-uswest2.sentinel-hub.com"
    assert len(byocframe.read_tiles(there, cid)) == 1
    assert there.at(cid) is there
    with pytest.raises(NotFoundError, match="not found"):  # nowhere: the plain 404
        client.get_collection("00000000-0000-0000-0000-000000000000")


def test_the_global_lookup_is_only_for_sentinel_hub():
    cdse = Client(deployment="cdse", client_id="i", client_secret="s")
    with pytest.raises(ValueError, match="no global collection lookup"):
        cdse.locate("c1")


# ---------------------------------------------------------------------- precedence
PROFILES = """
[default-profile]
sh_client_id = "file-id"
sh_client_secret = "file-secret"
sh_base_url = "https://services-uswest2.sentinel-hub.com"

[other]
sh_client_id = "other-id"
sh_client_secret = "other-secret"
sh_token_url = "https://other.example/token"

[legacy]
sh_client_id = "legacy-id"
sh_client_secret = "legacy-secret"
sh_auth_base_url = "https://auth.example"
"""

CASES = {
    "file only": ({}, {}),
    "env id beats the file": ({"SH_CLIENT_ID": "env-id"}, {}),
    "env both": ({"SH_CLIENT_ID": "env-id", "SH_CLIENT_SECRET": "env-secret"}, {}),
    "argument beats env": ({"SH_CLIENT_ID": "env-id"}, {"sh_client_id": "arg-id"}),
    "SH_PROFILE selects": ({"SH_PROFILE": "other"}, {}),
    "SH_PROFILE, env still wins": ({"SH_PROFILE": "other", "SH_CLIENT_SECRET": "env-s"}, {}),
    "profile argument": ({}, {"profile": "other"}),
    "profile argument over SH_PROFILE": ({"SH_PROFILE": "legacy"}, {"profile": "other"}),
    "deprecated sh_auth_base_url": ({}, {"profile": "legacy"}),
    "argument base url": ({}, {"sh_base_url": "https://creodias.sentinel-hub.com"}),
}
_OURS = {"sh_client_id": "client_id", "sh_base_url": "base_url", "profile": "profile"}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_precedence_matches_sentinelhub_py(case, tmp_path, monkeypatch):
    sentinelhub = pytest.importorskip("sentinelhub")
    (tmp_path / "sentinelhub").mkdir()
    (tmp_path / "sentinelhub" / "config.toml").write_text(PROFILES)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    env, arguments = CASES[case]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    theirs = sentinelhub.SHConfig(**arguments)
    ours = Client.from_config(**{_OURS[k]: v for k, v in arguments.items()})
    assert ours.client_id == theirs.sh_client_id
    settings = resolve_settings(**{_OURS[k]: v for k, v in arguments.items()})
    assert settings.client_secret == theirs.sh_client_secret
    assert ours.base_url == theirs.sh_base_url
    assert ours.token_url == theirs.sh_token_url


def test_missing_profiles(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    with pytest.raises(ValueError, match="no client id and no client secret"):
        Client.from_config()  # no file, no env: says where to put them
    monkeypatch.setenv("SH_CLIENT_ID", "e")
    monkeypatch.setenv("SH_CLIENT_SECRET", "s")
    assert Client.from_config().client_id == "e"  # no file is fine without a named profile
    monkeypatch.setenv("SH_PROFILE", "nope")
    with pytest.raises(ValueError, match="no sentinelhub-py configuration"):
        Client.from_config()
    (tmp_path / "sentinelhub").mkdir()
    (tmp_path / "sentinelhub" / "config.toml").write_text("[a]\nsh_client_id = 5\n")
    with pytest.raises(ValueError, match=r"profile 'nope' not in .* \(has: a\)"):
        Client.from_config()
    with pytest.raises(ValueError, match="sh_client_id must be strings"):
        Client.from_config(profile="a")
    (tmp_path / "sentinelhub" / "config.toml").write_text("[a\n")
    with pytest.raises(ValueError, match="not valid TOML") as err:
        Client.from_config(profile="a")
    assert err.value.__cause__ is not None


@pytest.fixture
def profile_file(tmp_path, monkeypatch, service):
    """A 'local' profile on a second service; env holds wrong credentials for `service`."""
    with byocframe.local_service() as profiled:
        profiled.client().create_collection({"name": "on the profile's base", "s3Bucket": "b"})
        service.client().create_collection({"name": "on the --base-url one", "s3Bucket": "b"})
        (tmp_path / "sentinelhub").mkdir()
        (tmp_path / "sentinelhub" / "config.toml").write_text(
            f'[local]\nsh_client_id = "{service.client_id}"\n'
            f'sh_client_secret = "{service.client_secret}"\n'
            f'sh_base_url = "{profiled.base_url}"\n'
        )
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
        monkeypatch.setenv("SH_CLIENT_ID", "wrong-id")
        monkeypatch.setenv("SH_CLIENT_SECRET", "wrong-secret")
        monkeypatch.setenv("SH_BASE_URL", service.base_url)
        yield service


def test_cli_profile_beats_env_and_base_url_applies_to_it(profile_file, capsys):
    service = profile_file
    assert main(["collections", "--profile", "local", "--base-url", service.base_url]) == 0
    assert "on the --base-url one" in capsys.readouterr().out
    # the profile's own base URL when --base-url is not given, even with SH_BASE_URL set
    assert main(["collections", "--profile", "local"]) == 0
    assert "on the profile's base" in capsys.readouterr().out
    # without --profile the variables win, and their credentials are wrong
    assert main(["collections"]) == 1
    assert "401" in capsys.readouterr().err


def test_serve_export_line():
    from byocframe.cli.serve import exports as _exports

    line = _exports("http://127.0.0.1:8080", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    assert line == (
        "export SH_BASE_URL=http://127.0.0.1:8080 SH_CLIENT_ID=byocframe-local "
        "SH_CLIENT_SECRET=byocframe-local-secret"
    )
    own = _exports("http://127.0.0.1:8080", "me", "my own secret")
    assert "my own secret" not in own
    assert "SH_CLIENT_SECRET=<" in own


# ---------------------------------------------------------------------- client-likes
def test_sentinelhub_objects_are_clients(service):
    pytest.importorskip("sentinelhub")
    from sentinelhub import SentinelHubBYOC

    client = service.client()
    cid = client.create_collection({"name": "c", "s3Bucket": "b"})["id"]
    client.create_tile(cid, {"path": "a/(BAND).tif"})
    config = service.sh_config()
    assert len(byocframe.read_tiles(config, cid)) == 1
    assert len(byocframe.read_tiles(SentinelHubBYOC(config=config), cid)) == 1
    assert byocframe.read_collections(config).index.tolist() == [cid]
    assert resolve_client(config) is resolve_client(SentinelHubBYOC(config=config))
    assert resolve_client(client) is client

    class Wrapper:  # e.g. a test's request counter around a real client
        def __getattr__(self, name):
            return getattr(client, name)

    wrapper = Wrapper()
    assert resolve_client(wrapper) is wrapper
    with pytest.raises(TypeError, match="got str"):
        resolve_client("http://127.0.0.1")  # type: ignore[arg-type]


def test_sh_config_defaults_follow_the_deployment():
    sentinelhub = pytest.importorskip("sentinelhub")
    cdse = sentinelhub.SHConfig(
        use_defaults=True,
        sh_client_id="i",
        sh_client_secret="s",
        sh_base_url=DEPLOYMENTS["cdse"].base_url,
    )
    assert cdse.sh_token_url == SENTINEL_HUB_TOKEN_URL  # sentinelhub-py's default: wrong here
    assert Client.from_config(cdse).token_url == CDSE_TOKEN_URL
    cdse.sh_token_url = "https://id.example/token"  # one the user chose is kept
    assert Client.from_config(cdse).token_url == "https://id.example/token"


def test_sh_config_options_carry_over(service):
    pytest.importorskip("sentinelhub")
    config = service.sh_config(download_timeout_seconds=7, max_download_attempts=2)
    client = Client.from_config(config)
    assert (client.timeout, client.retries) == (7.0, 1)


def test_a_row_of_read_collections_is_a_collection(service):
    client = service.client()
    cid = client.create_collection({"name": "c", "s3Bucket": "b"})["id"]
    client.create_tile(cid, {"path": "a/(BAND).tif"})
    frame = byocframe.read_collections(client)
    assert len(byocframe.read_tiles(client, frame.iloc[0])) == 1
    assert len(byocframe.read_tiles(client, frame.reset_index().iloc[0])) == 1
    assert client.get_collection(frame.loc[cid])["id"] == cid


# ---------------------------------------------------------------------- pacing
class FakeClock:
    def __init__(self):
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            return self.now

    def sleep(self, seconds):
        with self._lock:
            self.now += max(0.0, seconds)


class Stamps(HTTPTransport):
    """Notes the fake time at which each API request leaves."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock
        self.times: list[float] = []

    def send(self, request, **kwargs):
        if "/api/v1/byoc/" in request.url:
            self.times.append(self.clock())
        return super().send(request, **kwargs)


def test_pacing_holds_the_rate(service):
    clock = FakeClock()
    stamps = Stamps(clock)
    client = service.client(
        requests_per_minute=600, clock=clock, sleep=clock.sleep, transport=stamps
    )
    assert client.requests_per_minute == 600
    for _ in range(20):
        client.request("GET", "/collections")
    gaps = [b - a for a, b in zip(stamps.times, stamps.times[1:], strict=False)]
    assert len(stamps.times) == 20
    assert min(gaps) == pytest.approx(0.1)  # 600 a minute: one every 0.1 s, not faster
    assert max(gaps) == pytest.approx(0.1)  # and no slower either


def test_pacing_holds_across_threads(service):
    clock = FakeClock()
    client = service.client(requests_per_minute=120, clock=clock, sleep=clock.sleep)

    def work():
        for _ in range(5):
            client.request("GET", "/collections")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert service.requests_served == 20
    # 20 requests at 2 a second take 9.5 s of (fake) time, however many threads ask
    assert clock.now == pytest.approx(19 * 0.5)


def test_the_pace_can_be_set_later(service):
    clock = FakeClock()
    client = service.client(clock=clock, sleep=clock.sleep)
    client.requests_per_minute = 60
    for _ in range(3):
        client.request("GET", "/collections")
    assert clock.now == pytest.approx(2.0)
    with pytest.raises(ValueError, match="positive"):
        client.requests_per_minute = -1
    client.requests_per_minute = None
    client.request("GET", "/collections")
    assert clock.now == pytest.approx(2.0)


def test_unpaced_by_default(service):
    clock = FakeClock()
    client = service.client(clock=clock, sleep=clock.sleep)
    assert client.requests_per_minute is None
    for _ in range(20):
        client.request("GET", "/collections")
    assert clock.now == 0
    with pytest.raises(ValueError, match="requests_per_minute must be positive"):
        service.client(requests_per_minute=0)


def test_deployment_names_ignore_case():
    client = byocframe.Client(deployment="CDSE", client_id="a", client_secret="b")
    assert (
        client.base_url
        == byocframe.Client(deployment="cdse", client_id="a", client_secret="b").base_url
    )


def test_a_positional_url_says_to_use_keywords():
    """Today: 'ApiSession.__init__() takes 1 positional argument but 2 were given'."""
    with pytest.raises(TypeError, match=r"keywords only: e.g. Client\(base_url='https://x"):
        byocframe.Client("https://x.example")
