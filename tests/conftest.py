"""Shared fixtures: seed records, a tile builder and a clean environment."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import pytest
import requests

matplotlib.use("Agg")

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _no_real_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test may see the developer's own Sentinel Hub credentials or config.toml."""
    for name in ("SH_CLIENT_ID", "SH_CLIENT_SECRET", "SH_BASE_URL", "SH_TOKEN_URL", "SH_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "no-config"))
    # maps never reach for web tiles in tests: only loopback networking is allowed
    monkeypatch.setenv("BYOCFRAME_OFFLINE", "1")


@pytest.fixture
def seed_tile() -> dict[str, Any]:
    """The tile printed in the seed tutorial (UTM 28N, MultiPolygon cover with noise)."""
    return json.loads((DATA / "seed_tiles.json").read_text())[0]


@pytest.fixture
def seed_collection() -> dict[str, Any]:
    """The collection printed in the seed tutorial."""
    return json.loads((DATA / "seed_collections.json").read_text())[0]


def geojson(kind: str, coordinates: Any, crs: str | None) -> dict[str, Any]:
    """A GeoJSON geometry with the service's ``crs`` member (None: no member)."""
    out: dict[str, Any] = {"type": kind, "coordinates": coordinates}
    if crs is not None:
        out["crs"] = {"type": "name", "properties": {"name": crs}}
    return out


def box_ring(xmin: float, ymin: float, xmax: float, ymax: float) -> list[list[float]]:
    """A closed counter-clockwise ring of four corners."""
    return [[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax], [xmin, ymin]]


TileFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_tile() -> TileFactory:
    """Build a tile record: ``make_tile("t1", bounds=(...), crs="EPSG:32633")``."""
    counter = iter(range(1_000_000))

    def build(
        tile_id: str | None = None,
        *,
        bounds: tuple[float, float, float, float] | None = None,
        crs: str | None = "urn:ogc:def:crs:EPSG::32633",
        cover: dict[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        n = next(counter)
        record: dict[str, Any] = {
            "id": tile_id or f"tile-{n}",
            "path": f"folder/{n}/(BAND).tif",
            "status": "INGESTED",
            "sensingTime": "2024-06-01T10:00:00Z",
        }
        if bounds is not None:
            record["tileGeometry"] = geojson("Polygon", [box_ring(*bounds)], crs)
        if cover is not None:
            record["coverGeometry"] = copy.deepcopy(cover)
        record.update(fields)
        return record

    return build


@pytest.fixture
def service():
    """A fresh local BYOC service (in memory, immediate ingestion) on a free port."""
    import byocframe

    with byocframe.local_service() as running:
        yield running


@pytest.fixture
def client(service):
    """A byocframe Client for `service`."""
    return service.client(backoff=0.01, max_backoff=0.05)


API = "/api/v1/byoc"


def strict_json(text: str) -> Any:
    """Parse as a strict JSON reader would: no NaN or Infinity."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


class ServiceApi:
    """Plain requests against a service's BYOC API, with a token: the wire itself."""

    def __init__(self, service):
        self.service = service
        self.session = requests.Session()
        form = {
            "grant_type": "client_credentials",
            "client_id": service.client_id,
            "client_secret": service.client_secret,
        }
        token = self.session.post(service.token_url, data=form).json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method, path, **kwargs):
        url = path if path.startswith("http") else self.service.base_url + API + path
        return self.session.request(method, url, **kwargs)


@pytest.fixture(scope="session")
def demo_service():
    """A local service seeded with a small demo collection (shared, read-only in tests)."""
    import byocframe

    with byocframe.local_service(demo=True, demo_tiles=400) as running:
        yield running


UTM33_URN = "urn:ogc:def:crs:EPSG::32633"


def utm33_files(
    path: str, bands=("B02", "B03"), bounds=(400_000.0, 5_000_000.0, 509_800.0, 5_109_800.0)
) -> dict[str, dict]:
    """Virtual bucket entries for one tile's files (``(BAND)`` replaced by each band)."""
    return {
        path.replace("(BAND)", band): {
            "crs": "EPSG:32633",
            "bounds": list(bounds),
            "resolution": 10,
            "bitDepth": 16,
            "sampleFormat": "UINT",
        }
        for band in bands
    }


@pytest.fixture(scope="session")
def local_s3() -> Any:
    """moto's S3 server on 127.0.0.1, for the whole session (needs the test extra)."""
    from byocframe.emulator.s3 import LocalS3

    with LocalS3() as s3:
        yield s3


@pytest.fixture(scope="session")
def sample_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Real COGs: valid tiles and one tile per rule violation (see emulator.cogs)."""
    from byocframe.emulator.cogs import write_samples

    folder = tmp_path_factory.mktemp("cogs")
    return folder, write_samples(folder)


@pytest.fixture(scope="session")
def sample_bucket(local_s3: Any, sample_folder: tuple[Path, dict[str, str]]) -> str:
    """The sample COGs uploaded to the local S3; the bucket's name."""
    local_s3.upload_folder(sample_folder[0], "samples")
    return "samples"


@pytest.fixture
def disk_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Each ``os.fsync`` (the path of its descriptor) and ``os.replace``, in call order.

    The order a power loss cares about: a file renamed over another is flushed first,
    its folder after. Reads ``/proc/self/fd`` (Linux).
    """
    import os

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("reads /proc/self/fd (Linux)")
    calls: list[tuple[str, str]] = []
    fsync, rename = os.fsync, os.replace

    def recorded_fsync(fd: int) -> None:
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def recorded_rename(source: Any, destination: Any) -> None:
        calls.append(("replace", f"{os.fspath(source)} -> {os.fspath(destination)}"))
        rename(source, destination)

    monkeypatch.setattr(os, "fsync", recorded_fsync)
    monkeypatch.setattr(os, "replace", recorded_rename)
    return calls


def renamed_durably(calls: list[tuple[str, str]], target: Path) -> bool:
    """Whether the last rename in ``calls`` is onto ``target``, flushed before and after."""
    last = max(k for k, (kind, _) in enumerate(calls) if kind == "replace")
    source, destination = calls[last][1].split(" -> ")
    return (
        destination == str(target)
        and ("fsync", source) in calls[:last]
        and ("fsync", str(target.parent)) in calls[last:]
    )
