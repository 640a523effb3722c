"""Helpers shared by the benchmarks: the service in its own process, and the seed
tutorial's way of doing things with sentinelhub-py."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

import geopandas as gpd

from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


@contextlib.contextmanager
def served(*options: str) -> Iterator[str]:
    """Run ``byocframe serve`` with ``options`` in its own process; yield its base URL.

    Client and server then do not share one Python interpreter.
    """
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "byocframe.cli",
            "serve",
            "--port",
            "0",
            "--db",
            os.path.join(tmp, "bench.sqlite"),
            *options,
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            yield process.stdout.readline().rsplit(" ", 1)[-1].strip()
        finally:
            process.terminate()
            process.wait()
            process.stdout.close()


def sentinelhub_byoc(base_url: str) -> Any:
    """sentinelhub-py's ``SentinelHubBYOC`` for the local service at ``base_url``."""
    from sentinelhub import SentinelHubBYOC, SHConfig

    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http on loopback
    config = SHConfig(
        use_defaults=True,
        sh_client_id=DEFAULT_CLIENT_ID,
        sh_client_secret=DEFAULT_CLIENT_SECRET,
        sh_base_url=base_url,
        sh_token_url=base_url + "/oauth/token",
    )
    return SentinelHubBYOC(config=config)


def seed_frame(records: Iterable[dict[str, Any]]) -> gpd.GeoDataFrame:
    """What the seed tutorial does, tile after tile: ``ByocTile.from_dict``,
    ``Geometry.transform(CRS.WGS84)``, then a GeoDataFrame."""
    from sentinelhub import CRS, ByocTile

    rows = []
    for record in records:
        tile = ByocTile.from_dict(record)
        geometry = tile.cover_geometry or tile.tile_geometry
        rows.append(
            {
                "id": tile.tile_id,
                "path": tile.path,
                "status": tile.status,
                "sensing_time": tile.sensing_time,
                "geometry": geometry.transform(CRS.WGS84).geometry if geometry else None,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326").set_index("id")
