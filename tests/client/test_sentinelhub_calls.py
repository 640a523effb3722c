"""sentinelhub-py's BYOC tutorial runs on byocframe's Client with the same calls.

The tutorial (sentinelhub-py ``examples/byoc_request.ipynb``) is run twice, each time on
a fresh local service: once with sentinelhub-py's own ``SentinelHubBYOC``, once with
``byocframe.Client``. What the service holds after each step must be the same. Before
byocframe took sentinelhub-py's arguments, ``update_collection(collection)`` and
``update_tile(collection, tile)`` were TypeErrors ("missing 1 required positional
argument: 'record'"), ``iter_tiles(cid, "created:desc")`` one too, and
``copy_tiles(from_collection=...)`` and ``iter_tiles(..., count=)`` unknown keywords.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from conftest import utm33_files

import byocframe

sentinelhub = pytest.importorskip("sentinelhub")

from sentinelhub import (  # noqa: E402 - after the importorskip
    CRS,
    ByocCollection,
    ByocTile,
    Geometry,
    SentinelHubBYOC,
)
from sentinelhub.download.sentinelhub_client import SentinelHubDownloadClient  # noqa: E402
from shapely.geometry import box  # noqa: E402

TILE_PATH = "2019/11/27/33T/(BAND).tif"


def _tutorial(byoc: Any, service: Any) -> list[Any]:
    """The tutorial's calls, as it writes them; what each step leaves on the service."""
    seen: list[Any] = []
    created = byoc.create_collection(ByocCollection(name="new collection", s3_bucket="b"))
    mine = byoc.get_collection(created["id"])
    seen.append(next(byoc.iter_collections())["name"])
    mine["name"] = "renamed new collection"
    byoc.update_collection(mine)
    seen.append(byoc.get_collection(created["id"])["name"])
    byoc.delete_collection(mine)
    seen.append([c["id"] for c in byoc.iter_collections()])

    service.register_files("b", utm33_files(TILE_PATH))
    collection = byoc.create_collection(ByocCollection(name="mosaic", s3_bucket="b"))
    cover = Geometry(box(400_000, 5_000_000, 500_000, 5_100_000), crs=CRS("32633"))
    new_tile = ByocTile(
        path=TILE_PATH, sensing_time=dt.datetime(2019, 11, 27), cover_geometry=cover
    )
    made = byoc.create_tile(collection, new_tile)
    byoc.create_tile(collection, ByocTile(path="other/(BAND).tif"))
    tile = byoc.get_tile(collection=collection["id"], tile=made["id"])
    seen.append(sorted(tile))
    seen.append([t["path"] for t in byoc.iter_tiles(collection)])
    seen.append([t["path"] for t in byoc.iter_tiles(collection["id"], sort="created:desc")])
    seen.append([t["path"] for t in byoc.iter_tiles(collection, path=TILE_PATH)])
    seen.append([t["status"] for t in byoc.iter_tiles(collection, count=1, status="FAILED")])
    read = ByocTile.from_dict(next(byoc.iter_tiles(collection)))
    seen.append(read.cover_geometry.crs)

    tile["sensingTime"] = "2021-06-29T18:02:34"  # a dict, changed and sent back whole
    byoc.update_tile(collection, tile)
    after = byoc.get_tile(collection=collection["id"], tile=made["id"])
    seen.append((after["sensingTime"][:19], after["coverGeometry"]["coordinates"]))
    read.sensing_time = dt.datetime(2020, 1, 1)  # a dataclass, changed and sent back
    byoc.update_tile(collection, read)
    seen.append(byoc.get_tile(collection, made["id"])["sensingTime"][:19])

    other = byoc.create_collection({"name": "copy", "s3Bucket": "b"})
    byoc.copy_tiles(from_collection=collection, to_collection=other)
    seen.append([t["path"] for t in byoc.iter_tiles(other)])
    byoc.reingest_tile(collection, tile)
    byoc.delete_tile(collection, tile)
    seen.append([t["path"] for t in byoc.iter_tiles(collection)])
    seen.append([c["name"] for c in byoc.iter_collections(search="copy", count=100)])
    return seen


@pytest.fixture
def sentinelhub_byoc(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # SHConfig must not touch ~/.config
    SentinelHubDownloadClient.clear_cache()
    with byocframe.local_service() as service:
        yield SentinelHubBYOC(config=service.sh_config(download_sleep_time=0.01)), service
    SentinelHubDownloadClient.clear_cache()


def test_the_tutorial_leaves_the_same_state_with_either_client(sentinelhub_byoc):
    theirs = _tutorial(*sentinelhub_byoc)
    with byocframe.local_service() as service:
        ours = _tutorial(service.client(), service)
    # the tutorial's SentinelHubBYOC(config=config), with byocframe's name
    with byocframe.local_service() as service:
        client = byocframe.Client(config=service.sh_config())
        assert client.base_url == service.base_url
        swapped = _tutorial(client, service)
        client.close()
    assert ours == theirs
    assert swapped == theirs
    assert ours[1] == "renamed new collection"
    assert ours[-5][0] == "2021-06-29T18:02:34"  # the dict's change was sent
    assert ours[-4] == "2020-01-01T00:00:00"  # and the dataclass's


def test_byocframes_own_forms_still_work(service, client):
    cid = client.create_collection({"name": "x", "s3Bucket": "b"})["id"]
    client.update_collection(cid, {"name": "y", "s3Bucket": "b"})
    assert client.get_collection(cid)["name"] == "y"
    tid = client.create_tile(cid, {"path": "a/(BAND).tif"})["id"]
    client.update_tile(cid, tid, {"sensingTime": "2024-06-01T00:00:00Z"})
    assert client.get_tile(cid, tid)["sensingTime"].startswith("2024-06-01")
    assert [t["id"] for t in client.iter_tiles(cid, status="FAILED", sort="created:asc")] == [tid]


def test_a_bare_id_is_not_a_tile_to_send(client):
    cid = client.create_collection({"name": "x", "s3Bucket": "b"})["id"]
    tid = client.create_tile(cid, {"path": "a/(BAND).tif"})["id"]
    with pytest.raises(TypeError, match=r"update_tile\(collection, x\) sends x as it is.*got str"):
        client.update_tile(cid, tid)
    with pytest.raises(TypeError, match=r"update_collection\(collection, x\).*got str"):
        client.update_collection(cid)
    with pytest.raises(ValueError, match="count must be an integer from 1 to 100"):
        next(client.iter_collections(count=0))
