"""byocframe.Client: retries, rate limits, tokens, typed errors, and keeping secrets."""

from __future__ import annotations

import logging
import pickle
import threading

import pytest

import byocframe
from byocframe import (
    AuthenticationError,
    Client,
    Faults,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)

SECRET = "s3cr3t-do-not-print"


class FakeClock:
    """Monotonic seconds that only move when someone sleeps (thread-safe)."""

    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += max(0.0, seconds)


class TestConstruction:
    def test_plain_http_only_for_this_machine(self):
        with pytest.raises(ValueError, match="only allowed for this machine"):
            Client(base_url="http://example.com", client_id="id", client_secret="secret")
        for url in ("http://127.0.0.1:8080", "http://localhost:8080", "https://example.com"):
            Client(base_url=url, client_id="id", client_secret="secret")

    @pytest.mark.parametrize("name", ["timeout", "deadline", "max_wait"])
    @pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan")])
    def test_limits_must_be_finite_and_positive(self, name, value):
        with pytest.raises(ValueError, match=f"{name} must be a positive number"):
            Client(client_id="id", client_secret="secret", **{name: value})

    def test_credentials_are_keyword_only(self):
        with pytest.raises(TypeError):
            Client("https://example.com", "id", "secret")  # type: ignore[misc]

    def test_credentials_are_required(self):
        with pytest.raises(ValueError, match="SH_CLIENT_ID / SH_CLIENT_SECRET"):
            Client(base_url="https://example.com")

    def test_from_env(self, monkeypatch):
        monkeypatch.setenv("SH_CLIENT_ID", "env-id")
        monkeypatch.setenv("SH_CLIENT_SECRET", SECRET)
        monkeypatch.setenv("SH_BASE_URL", "https://sh.dataspace.copernicus.eu")
        client = Client.from_env()
        assert client.base_url == "https://sh.dataspace.copernicus.eu"
        assert client.token_url == (
            "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token"
        )
        assert client.service_url == "https://sh.dataspace.copernicus.eu/api/v1/byoc"

    def test_from_env_names_what_is_missing(self):
        with pytest.raises(ValueError, match="set SH_CLIENT_ID and SH_CLIENT_SECRET"):
            Client.from_env()

    def test_from_config_file(self, tmp_path):
        path = tmp_path / "config.toml"
        path.write_text(
            '[default-profile]\nsh_client_id = "a"\nsh_client_secret = "b"\n\n'
            '[cdse]\nsh_client_id = "c"\nsh_client_secret = "d"\n'
            'sh_base_url = "https://sh.dataspace.copernicus.eu"\n'
            'sh_token_url = "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/'
            'protocol/openid-connect/token"\n'
        )
        before = path.read_text()
        default = Client.from_config(path=path)
        cdse = Client.from_config(path=path, profile="cdse")
        assert default.client_id == "a"
        assert cdse.base_url == "https://sh.dataspace.copernicus.eu"
        assert "identity.dataspace" in cdse.token_url
        assert path.read_text() == before  # read, never written
        with pytest.raises(ValueError, match="profile 'nope' not in"):
            Client.from_config(path=path, profile="nope")
        with pytest.raises(ValueError, match="no sentinelhub-py configuration"):
            Client.from_config(path=tmp_path / "missing.toml")

    def test_from_sh_config(self, service):
        pytest.importorskip("sentinelhub")
        client = Client.from_config(service.sh_config())
        assert client.base_url == service.base_url
        assert list(client.iter_collections()) == []


class TestSecrets:
    def test_repr_and_pickle(self):
        client = Client(
            base_url="https://example.com", client_id="my-client-id", client_secret=SECRET
        )
        assert SECRET not in repr(client)
        assert "my-client-id" not in repr(client)
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(client)

    def test_wrong_secret_error_does_not_echo_it(self, service):
        client = Client(
            base_url=service.base_url,
            client_id=service.client_id,
            client_secret=SECRET,
            token_url=service.token_url,
        )
        with pytest.raises(AuthenticationError) as err:
            client.get_collection("x")
        assert err.value.status_code == 401
        assert SECRET not in str(err.value)
        assert "SH_CLIENT_ID" in str(err.value)  # says what to do

    def test_logs_hold_no_secret_or_token(self, service, caplog):
        client = service.client()
        with caplog.at_level(logging.DEBUG):
            client.create_collection({"name": "c", "s3Bucket": "b"})
            list(client.iter_collections())
        token = client._auth.bearer()
        text = caplog.text
        assert "GET" in text  # something was logged
        assert service.client_secret not in text
        assert token not in text


class TestRetries:
    def test_get_survives_server_errors(self, service, client):
        service.faults = Faults(error_rate=0.5, seed=3)
        for _ in range(10):
            assert client.request("GET", "/collections")["data"] == []

    def test_post_is_not_retried(self, service, client):
        service.faults = Faults(error_rate=1.0)
        with pytest.raises(ServerError) as err:
            client.create_collection({"name": "c", "s3Bucket": "b"})
        assert err.value.status_code == 503
        assert err.value.method == "POST"
        service.faults = None
        assert list(client.iter_collections()) == []  # nothing was created

    def test_dropped_connections(self, service, client):
        service.faults = Faults(drop_rate=0.5, seed=5)
        for _ in range(10):
            client.request("GET", "/collections")
        service.faults = Faults(drop_rate=1.0)
        with pytest.raises(TransportError, match="may have taken effect"):
            client.create_collection({"name": "c", "s3Bucket": "b"})

    def test_gives_up_after_the_retries(self, service):
        client = service.client(retries=2, backoff=0.01)
        service.faults = Faults(error_rate=1.0)
        with pytest.raises(ServerError):
            client.request("GET", "/collections")
        assert service.requests_served == 0

    def test_429_waits_for_retry_after(self, service):
        clock = FakeClock()
        client = service.client(clock=clock, sleep=clock.sleep)
        service.faults = Faults(throttle_rate=0.5, retry_after_ms=150, seed=1)
        for _ in range(6):
            client.request("GET", "/collections")
        waits = [s for s in clock.slept if s >= 0.15]
        assert waits  # some 429 came, and each was waited out: 150 ms plus <10 % jitter
        assert all(0.15 <= s <= 0.165 for s in waits)

    def test_too_many_429(self, service):
        clock = FakeClock()
        client = service.client(rate_limit_retries=2, clock=clock, sleep=clock.sleep)
        service.faults = Faults(throttle_rate=1.0, retry_after_ms=10)
        with pytest.raises(RateLimitError) as err:
            client.request("GET", "/collections")
        assert err.value.retry_after == pytest.approx(0.01)
        assert len(clock.slept) == 2

    def test_429_pauses_every_thread(self, service):
        """After one 429, all workers wait: the limit is per client."""
        clock = FakeClock()
        client = service.client(clock=clock, sleep=clock.sleep)
        client.request("GET", "/collections")
        client._throttle.pause(0.3)
        results = []
        threads = [
            threading.Thread(target=lambda: results.append(client.request("GET", "/collections")))
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 3
        assert clock.now >= 0.3  # nobody went before the pause was over


class TestTokens:
    def test_one_token_for_many_threads(self, service):
        client = service.client()
        barrier = threading.Barrier(8)

        def work():
            barrier.wait()
            for _ in range(5):
                client.request("GET", "/collections")

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert service.tokens_issued == 1

    def test_token_is_renewed_before_it_expires(self):
        clock = FakeClock()
        with byocframe.local_service(token_lifetime=100) as service:
            client = service.client(clock=clock, sleep=clock.sleep)
            client.request("GET", "/collections")
            client.request("GET", "/collections")
            assert service.tokens_issued == 1
            clock.now += 95  # within the renewal margin (10 % of 100 s)
            client.request("GET", "/collections")
            assert service.tokens_issued == 2


class TestErrors:
    def test_typed_error_carries_the_answer(self, client):
        with pytest.raises(NotFoundError) as err:
            client.get_collection("sinergise")
        error = err.value
        assert error.status_code == 404
        assert error.code == "COMMON_NOT_FOUND"
        assert error.message == "Collection sinergise not found."
        assert error.url.endswith("/api/v1/byoc/collections/sinergise")
        assert "check the id" in str(error)

    def test_every_endpoint(self, service, client):
        collection = client.create_collection({"name": "c", "s3Bucket": "b"})
        other = client.create_collection({"name": "d", "s3Bucket": "b"})
        tile = client.create_tile(collection, {"path": "p/(BAND).tif"})
        assert tile["status"] == "WAITING"
        assert client.get_tile(collection, tile)["id"] == tile["id"]
        assert client.find_tile(collection, "p/(BAND).tif")["id"] == tile["id"]
        assert client.find_tile(collection, "nope") is None
        assert (
            client.update_tile(collection, tile["id"], {"sensingTime": "2024-01-01T00:00:00Z"})
            is None
        )
        assert client.reingest_tile(collection, tile["id"]) is None
        assert client.copy_tiles(collection, other) is None
        assert client.update_collection(collection["id"], {"name": "e", "s3Bucket": "b"}) is None
        assert [c["name"] for c in client.iter_collections("e")] == ["e"]
        assert client.delete_tile(collection, tile["id"]) is None
        assert client.delete_collection(other) is None
        with pytest.raises(ValueError, match="empty collection id"):
            client.get_collection({})


def test_a_record_that_is_neither_a_dict_nor_a_dataclass_is_refused_before_sending(service):
    client = service.client()
    with pytest.raises(TypeError, match=r"dict or a sentinelhub-py dataclass .*got list"):
        client.create_collection([("name", "c"), ("s3Bucket", "b")])  # type: ignore[arg-type]
    assert list(client.iter_collections()) == []  # nothing was sent
