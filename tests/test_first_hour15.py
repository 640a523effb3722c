"""A new user's first hour: the set-up the README names, the lines ``serve`` prints, the
guides' variables, and the errors of natural first mistakes."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import byocframe
from byocframe.cli.serve import setup_lines
from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PAGES += sorted((ROOT / "docs" / "guide").glob("*.md"))
FENCE = re.compile(r"^[ \t]*```(python|bash|sh|shell)\n(.*?)^[ \t]*```", re.S | re.M)
#: what a variable a page's code reads looks like: os.environ["X"], $X, ${X}
READ = re.compile(r'os\.environ\["([A-Z_][A-Z0-9_]*)"\]|\$\{?([A-Z_][A-Z0-9_]*)')
#: every shell has them; a reader does not need to be told
EVERY_SHELL = {"HOME", "PATH", "PWD", "USER"}


def exported_names(lines: list[str]) -> set[str]:
    """The names of every ``export A=1 B=2`` line among ``lines``."""
    names: set[str] = set()
    for line in lines:
        words = shlex.split(line)
        if words and words[0] == "export":
            names |= {word.split("=", 1)[0] for word in words[1:]}
    return names


def test_serve_exports_every_variable_the_guides_read():
    """Pasting what ``byocframe serve --demo`` prints sets what the guides' code reads."""
    lines = setup_lines(
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080/oauth/token",
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        demo_collection="c1",
    )
    exported = exported_names(lines)
    read: dict[str, str] = {}
    for page in PAGES:
        for match in FENCE.finditer(page.read_text()):
            for found in READ.finditer(match.group(2)):
                read.setdefault(found.group(1) or found.group(2), page.name)
    assert "COLLECTION" in read  # the guides do read the collection's id from the shell
    unset = {name: page for name, page in read.items() if name not in exported | EVERY_SHELL}
    assert not unset, f"read by the guides, never printed by serve: {unset}"


def test_readme_names_the_python_the_package_requires():
    """A fresh machine's ``python3`` may be older than ``requires-python``: say which."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    least = re.fullmatch(r">=\s*(\d+\.\d+)", project["requires-python"])
    assert least is not None
    for page in (ROOT / "README.md", ROOT / "docs" / "getting-started.md"):
        assert f"Python {least.group(1)} or newer" in page.read_text(), page.name


def test_serve_help_names_the_catalog_it_serves(capsys):
    from byocframe.cli import main

    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "/api/v1/byoc" in text
    assert "/api/v1/catalog/1.0.0" in text


# -------------------------------------------------------------------- first mistakes
@pytest.fixture
def offline_client():
    """A client for a port nothing listens on: a test that reached the network fails."""
    with byocframe.Client(
        base_url="http://127.0.0.1:9", client_id="someone", client_secret="s3cr3t-value"
    ) as client:
        yield client


def test_a_whole_frame_given_as_the_collection_is_named(offline_client):
    """``read_tiles(client, collections)`` (the frame, not one id) says what to pass."""
    from byocframe.frame.synthetic import synthetic_tiles

    collections = byocframe.collections_from_records(
        [{"id": "c1", "name": "mine", "s3Bucket": "b"}]
    )
    tiles = byocframe.tiles_from_records(synthetic_tiles(2, seed=1))
    for frame, kind in ((collections, "DataFrame"), (tiles, "GeoDataFrame")):
        with pytest.raises(byocframe.ValidationError, match="collection id") as caught:
            byocframe.read_tiles(offline_client, frame)
        message = str(caught.value)
        assert f"a whole {kind}" in message
        assert "index[0]" in message
        assert "\n" not in message


def test_a_collection_name_given_as_the_id_points_to_the_ids(offline_client):
    with pytest.raises(byocframe.ValidationError, match="not a plain id") as caught:
        byocframe.read_tiles(offline_client, "my collection")
    assert "byocframe.read_collections(client)" in str(caught.value)


def test_the_api_address_given_as_base_url_is_refused_at_once():
    """As ``SH_BASE_URL`` is: the message names the base URL to give instead."""
    with pytest.raises(byocframe.ValidationError) as caught:
        byocframe.Client(
            base_url="http://127.0.0.1:8080/api/v1/byoc",
            client_id="someone",
            client_secret="s3cr3t-value",
        )
    message = str(caught.value)
    assert message.endswith("set base_url to http://127.0.0.1:8080")
    assert "s3cr3t-value" not in message


def test_a_base_url_with_a_wrong_path_says_check_the_base_url():
    """A 404 off any collection (here the token endpoint) is about the address, not an id."""
    with byocframe.local_service() as service:
        client = byocframe.Client(
            base_url=service.base_url + "/sentinelhub",
            client_id=service.client_id,
            client_secret=service.client_secret,
        )
        with pytest.raises(byocframe.APIError, match=r"^404 ") as caught:
            byocframe.read_collections(client)
    message = str(caught.value)
    assert "check the id" not in message
    assert "{" not in message  # the server's message, not its JSON
    assert f"the base URL ({service.base_url}/sentinelhub)" in message
    assert service.client_secret not in message


def test_a_missing_collection_still_says_check_the_id():
    with (
        byocframe.local_service() as service,
        pytest.raises(byocframe.NotFoundError, match="check the id"),
    ):
        service.client().get_collection("11111111-2222-3333-4444-555555555555")


def test_a_profile_with_no_configuration_file_says_how_to_make_one(tmp_path):
    missing = tmp_path / "sentinelhub" / "config.toml"
    with pytest.raises(ValueError, match="no sentinelhub-py configuration") as caught:
        byocframe.Client.from_config(profile="work", path=missing)
    message = str(caught.value)
    assert ".save('work')" in message
    assert "SH_CLIENT_ID / SH_CLIENT_SECRET" in message


@pytest.mark.parametrize(
    ("cut", "named"),
    [
        (lambda gdf: gdf.drop(columns="status"), "this one lacks 'status'"),
        (lambda gdf: gdf[["path", "status"]], "this one lacks a geometry column"),
        (lambda gdf: gdf.drop(columns="geometry"), "lacks its geometry column 'geometry'"),
        (lambda gdf: gdf.drop(columns=["path", "status"]), "lacks 'path' and 'status'"),
        (
            lambda gdf: pd.DataFrame(gdf),
            "this is a DataFrame: make it one with geopandas.GeoDataFrame(frame, "
            "geometry='geometry')",
        ),
    ],
    ids=["no-status", "no-geometry", "no-active-geometry", "no-path-status", "plain-dataframe"],
)
def test_the_accessor_names_what_a_cut_tile_frame_lacks(cut, named):
    from byocframe.frame.synthetic import synthetic_tiles

    frame = cut(byocframe.tiles_from_records(synthetic_tiles(2, seed=1)))
    with pytest.raises(AttributeError, match=r"\.byoc works on BYOC tile frames") as caught:
        frame.byoc  # noqa: B018 (the access is the test)
    assert named in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_accessor_says_nothing_of_columns_on_an_unrelated_frame():
    with pytest.raises(AttributeError) as caught:
        pd.DataFrame({"a": [1]}).byoc  # noqa: B018
    assert "lacks" not in str(caught.value)


def test_a_new_row_in_metres_in_a_lon_lat_frame_is_refused_not_created_without_cover():
    """Rows concatenated from a frame without a CRS take the tile frame's (geopandas
    warns); a cover in metres then lies outside lon/lat. It used to be dropped: the tile
    was created with no cover and the push said ok."""
    import geopandas as gpd
    import shapely

    with byocframe.local_service(demo=True, demo_tiles=3) as service:
        client = service.client()
        gdf = byocframe.read_tiles(client, service.demo_collection, progress=False)
        new = gpd.GeoDataFrame(
            {"path": ["utm/(BAND).tif"]},
            geometry=[shapely.box(500_000, 0, 600_000, 100_000)],
            crs=gdf.crs,
        )
        edited = pd.concat([gdf, new])
        with pytest.raises(byocframe.ValidationError, match="cover lies outside EPSG:4326"):
            byocframe.push(edited, client, progress=False)
        assert client.find_tile(service.demo_collection, "utm/(BAND).tif") is None
        # the same row in degrees is created with its cover
        new["geometry"] = [shapely.box(10, 10, 11, 11)]
        byocframe.push(pd.concat([gdf, new]), client, progress=False)
        made = client.find_tile(service.demo_collection, "utm/(BAND).tif")
        assert made is not None
        cover = shapely.geometry.shape(made["coverGeometry"])
        assert cover.bounds == (10.0, 10.0, 11.0, 11.0)


@pytest.mark.parametrize("typo", ["sensing_tme", "Sensing_time", "sensingtime", "geomtry"])
def test_a_misspelt_column_in_an_edit_is_named_not_silently_skipped(typo):
    """``gdf.loc[m, "sensing_tme"] = ...`` makes a new column; nothing would be pushed."""
    from byocframe.frame.synthetic import synthetic_tiles

    gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    gdf.loc[gdf.index[0], typo] = pd.Timestamp("2024-01-01", tz="UTC")
    with pytest.warns(byocframe.ByocframeWarning, match=f"column '{typo}' is not a tile field"):
        found = byocframe.changes(gdf)
    assert found.empty  # the edit itself is still not taken: the warning says why


def test_own_columns_that_are_not_misspellings_pass_quietly():
    import warnings

    from byocframe.frame.synthetic import synthetic_tiles

    gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    gdf["sensing_date"] = gdf["sensing_time"].dt.date
    gdf["local_sensing_time"] = gdf["sensing_time"]
    gdf["geometry_area"] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert byocframe.changes(gdf).empty
