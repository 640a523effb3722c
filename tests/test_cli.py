"""The byocframe command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from byocframe.cli import main


def test_demo_runs_offline_and_writes_a_map(tmp_path, capsys):
    output = tmp_path / "map.png"
    assert main(["demo", "--tiles", "300", "-o", str(output), "--no-basemap"]) == 0
    text = capsys.readouterr().out
    assert "300 tiles" in text
    assert "Coverage per sensing date" in text
    assert "2024-06-01" in text
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_falls_back_to_the_land_layer(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BYOCFRAME_OFFLINE")
    monkeypatch.setattr("byocframe.maps.basemap.BASEMAP_TIMEOUT", 0.5)
    monkeypatch.setattr(
        "contextily.providers.OpenStreetMap.Mapnik",
        "http://127.0.0.1:9/{z}/{x}/{y}.png",
        raising=False,
    )
    assert main(["demo", "--tiles", "100", "-o", str(tmp_path / "m.png")]) == 0
    assert "Natural Earth land layer" in capsys.readouterr().out


def test_help_teaches(capsys):
    import argparse

    from byocframe.cli.app import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        for action in sub._actions:
            assert action.help, f"byocframe {name} {'/'.join(action.option_strings) or action.dest}"
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0
        assert f"usage: byocframe {name}" in capsys.readouterr().out


def test_every_default_is_said_the_same_way():
    """An option with a default says it as "(default ...)", as most already did."""
    import argparse

    from byocframe.cli.app import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    unsaid = [
        f"{name} {action.option_strings[-1]}: {action.help}"
        for name, sub in commands.choices.items()
        for action in sub._actions
        if action.option_strings
        and action.default not in (None, False, 0, argparse.SUPPRESS)
        and "default" not in (action.help or "")
    ]
    assert unsaid == []
    serve, demo = commands.choices["serve"], commands.choices["demo"]
    helps = {a.dest: a.help for p in (serve, demo) for a in p._actions}
    assert helps["demo_tiles"] == helps["tiles"]  # the same setting, the same words


def test_errors_are_one_line(tmp_path, capsys):
    assert (
        main(["demo", "--tiles", "10", "-o", str(tmp_path / "missing" / "m.png"), "--no-basemap"])
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("byocframe demo: error:")
    assert "Traceback" not in err


def test_serve_prints_its_url_and_answers(tmp_path, monkeypatch):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "byocframe.cli",
            "serve",
            "--port",
            "0",
            "--db",
            str(tmp_path / "s.sqlite"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()
        assert first.startswith("byocframe local BYOC service at http://127.0.0.1:")
        base_url = first.rsplit(" ", 1)[-1].strip()
        lines = [process.stdout.readline() for _ in range(6)]
        export = next(line for line in lines if line.strip().startswith("export "))
        import shlex

        import byocframe

        # the printed line is all a second shell needs
        environ = dict(word.split("=", 1) for word in shlex.split(export)[1:])
        assert environ["SH_BASE_URL"] == base_url
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        client = byocframe.Client.from_env()
        client.create_collection({"name": "via cli", "s3Bucket": "b"})
        assert [c["name"] for c in client.iter_collections()] == ["via cli"]
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.fixture
def account(demo_service, monkeypatch):
    monkeypatch.setenv("SH_CLIENT_ID", demo_service.client_id)
    monkeypatch.setenv("SH_CLIENT_SECRET", demo_service.client_secret)
    monkeypatch.setenv("SH_BASE_URL", demo_service.base_url)
    return demo_service


def test_collections(account, capsys):
    assert main(["collections"]) == 0
    assert "byocframe demo: global mosaic" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".parquet", ".gpkg", ".geojson", ".fgb", ".csv"])
def test_tiles_to_every_format(account, tmp_path, suffix):
    import geopandas as gpd
    import pandas as pd

    import byocframe

    path = tmp_path / f"tiles{suffix}"
    assert main(["tiles", account.demo_collection, "-o", str(path)]) == 0
    # other programs read the same files (CSV has one '#byocframe' line first)
    readers = {
        ".csv": lambda p: pd.read_csv(p, skiprows=1),
        ".parquet": gpd.read_parquet,
        ".geojson": lambda p: gpd.GeoDataFrame.from_features(json.loads(p.read_text())),
    }
    assert len(readers.get(suffix, gpd.read_file)(path)) == 400
    back = byocframe.read_file(path)
    assert len(back) == 400
    assert back.index.name == "id"
    assert byocframe.changes(back).empty


def test_coverage_and_map(account, tmp_path, capsys):
    assert main(["coverage", account.demo_collection, "--aoi=-180,-90,180,90", "--by", "date"]) == 0
    out = capsys.readouterr().out
    assert "covered_fraction" in out
    assert "2024-06-01" in out
    assert main(["map", account.demo_collection, "-o", str(tmp_path / "m.png")]) == 0
    assert (tmp_path / "m.png").stat().st_size > 10_000


def test_push_from_an_edited_file(tmp_path, monkeypatch, capsys):
    import geopandas as gpd
    import pandas as pd

    import byocframe

    with byocframe.local_service(demo=True, demo_tiles=60) as service:
        monkeypatch.setenv("SH_CLIENT_ID", service.client_id)
        monkeypatch.setenv("SH_CLIENT_SECRET", service.client_secret)
        monkeypatch.setenv("SH_BASE_URL", service.base_url)
        cid = service.demo_collection
        for suffix in (".parquet", ".gpkg"):
            path = tmp_path / f"tiles{suffix}"
            assert main(["tiles", cid, "-o", str(path)]) == 0
            frame = gpd.read_parquet(path) if suffix == ".parquet" else gpd.read_file(path)
            key = "id" if "id" in frame.columns else None
            ids = frame[key] if key else frame.index
            shifted = pd.to_datetime(frame["sensing_time"], utc=True) + pd.Timedelta(hours=1)
            frame["sensing_time"] = shifted
            edited = frame.iloc[:3] if suffix == ".gpkg" else frame
            if suffix == ".parquet":
                edited.to_parquet(path)
            else:
                edited.to_file(path)
            assert main(["push", cid, str(path), "--dry-run"]) == 0
            count = 3 if suffix == ".gpkg" else 60
            assert f"would update {count} / would create 0" in capsys.readouterr().out
            assert main(["push", cid, str(path)]) == 0
            assert "ok" in capsys.readouterr().out
            tile = service.client().get_tile(cid, next(iter(ids)))
            assert pd.Timestamp(tile["sensingTime"]) == shifted.iloc[0]


def test_expected_failures_are_one_line(account, capsys, monkeypatch):
    assert main(["tiles", "no-such-collection", "-o", "x.parquet"]) == 1
    err = capsys.readouterr().err
    assert "Collection no-such-collection not found" in err
    assert "Traceback" not in err
    monkeypatch.setenv("SH_CLIENT_SECRET", "wrong")
    assert main(["collections"]) == 1
    assert "401" in capsys.readouterr().err


def test_bad_arguments_fail_in_one_line_before_any_request(account, tmp_path, capsys):
    garbage = tmp_path / "garbage.geojson"
    garbage.write_text("this is not json")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("a,b\n1,2\n")
    cid = account.demo_collection
    served = account.requests_served
    cases = [
        (["coverage", cid, "--aoi", str(garbage)], "not a vector file"),
        (["coverage", cid, "--aoi", str(tmp_path / "nope.geojson")], "file not found"),
        (["map", cid, "--column", "bogus", "-o", str(tmp_path / "m.png")], "not a tile column"),
        (["map", cid, "--column", "native_cover", "-o", str(tmp_path / "m.png")], "cannot colour"),
        (["push", cid, str(bad_csv)], "no 'geometry' column"),
        (["push", cid, str(tmp_path / "missing.parquet")], "file not found"),
        (["tiles", cid, "--crs", "EPSG:999999", "-o", str(tmp_path / "t.gpkg")], "not a CRS"),
        (["tiles", cid, "-o", "/nonexistent/x.gpkg"], "folder not found"),
    ]
    for argv, expected in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert expected in err, (argv, err)
        assert len(err.strip().splitlines()) == 1, err
        assert "native_cover" not in err.partition("use one of")[2], err  # not offered
    assert account.requests_served == served  # nothing was listed first


def test_small_conveniences(account, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("byocframe ")
    with pytest.raises(SystemExit):
        main(["demo", "--tiles", "0"])
    assert "must be at least 1" in capsys.readouterr().err
    assert main(["coverage", account.demo_collection, "--aoi", "-10,35,30,60"]) == 0
    out = capsys.readouterr().out
    assert "e+0" not in out
    assert any("," in word for word in out.split())  # thousands separators
    assert main(["tiles", account.demo_collection, "--status", "failed", "-o", "f.parquet"]) == 0
    done_cli = subprocess.run(
        [sys.executable, "-m", "byocframe", "--version"], capture_output=True, text=True
    )
    assert done_cli.returncode == 0
    assert done_cli.stdout.startswith("byocframe")


def test_a_dry_run_says_what_would_happen(tmp_path, monkeypatch, capsys):
    import geopandas as gpd
    import pandas as pd
    import shapely

    import byocframe

    with byocframe.local_service(demo=True, demo_tiles=12) as service:
        client = service.client()
        gdf = byocframe.read_tiles(client, service.demo_collection)
        gdf.loc[gdf.index[:2], "sensing_time"] += pd.Timedelta(hours=1)
        new = gpd.GeoDataFrame(
            {"path": ["new/(BAND).tif"], "sensing_time": pd.to_datetime(["2024-08-01"], utc=True)},
            geometry=[shapely.box(10, 45, 11, 46)],
            crs=4326,
        )
        frame = pd.concat([gdf.drop(index=gdf.index[-1]), new])
        served = service.requests_served
        result = frame.byoc.push(client, dry_run=True, delete_missing=True, original=gdf)
        assert service.requests_served == served
        assert result["outcome"].value_counts().to_dict() == {
            "would update": 2,
            "would create": 1,
            "would delete": 1,
        }
        assert (result["outcome"] == "would " + result["action"]).all()
        # the command line's dry run says the same
        for name, value in {
            "SH_BASE_URL": service.base_url,
            "SH_CLIENT_ID": service.client_id,
            "SH_CLIENT_SECRET": service.client_secret,
        }.items():
            monkeypatch.setenv(name, value)
        path = tmp_path / "edited.parquet"
        gdf.iloc[:3].to_parquet(path)  # two of them edited
        assert main(["push", service.demo_collection, str(path), "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert out.count(": would update: sensing_time: ") == 2
        assert "skipped" not in out


def test_coverage_by_words_and_aliases(account, capsys):
    import pandas as pd

    import byocframe

    gdf = byocframe.read_tiles(account.client(), account.demo_collection)
    months = gdf["sensing_time"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("M")
    for by in ("month", "monthly", "MS"):
        assert main(["coverage", account.demo_collection, "--by", by]) == 0
        out = capsys.readouterr().out
        for month in months.unique():
            assert f"{month.start_time:%Y-%m-%d}" in out, (by, out)
    table = gdf.byoc.coverage(by="week")
    weeks = gdf["sensing_time"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("W")
    assert table["tiles"].sum() == len(gdf)
    assert len(table) == weeks.nunique()
    assert table.index.equals(
        pd.DatetimeIndex(sorted(p.end_time.normalize() for p in weeks.unique()), name="period")
    )
    with pytest.raises(ValueError, match=r"nor a period \(day, week, month"):
        gdf.byoc.coverage(by="fortnight")


def test_coverage_tables_show_areas_not_scientific_notation():
    import geopandas as gpd
    import shapely

    tiles = gpd.GeoDataFrame(
        {"path": ["a/(BAND).tif", "b/(BAND).tif"], "status": ["INGESTED"] * 2},
        geometry=[shapely.box(-10, 35, 30, 60), shapely.box(0, 40, 1, 41)],
        crs=4326,
    )
    table = tiles.byoc.coverage()
    covered = table["covered_km2"].iloc[0]
    assert covered > 1e6  # pandas would show it as 5.2e+06
    shown = f"{covered:,.1f}"
    for text in (repr(table), table._repr_html_(), str(table)):
        assert "e+0" not in text
        assert shown in text
    assert table["covered_km2"].iloc[0] == covered  # the values stay whole floats


def test_the_catalog_form_of_a_collection_id_gets_a_hint(account, capsys):
    import byocframe

    cid = account.demo_collection
    assert main(["tiles", f"byoc-{cid}", "-o", "x.parquet"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"the BYOC API takes the bare id: {cid}" in err
    with pytest.raises(byocframe.NotFoundError, match=f"takes the bare id: {cid}"):
        byocframe.read_tiles(account.client(), f"byoc-{cid}")
    # a Catalog search is refused before any request, with the same hint
    served = account.requests_served
    with pytest.raises(byocframe.ValidationError, match=f"give the bare BYOC id '{cid}'"):
        byocframe.read_tiles(account.client(), f"byoc-{cid}", bbox=[-180, -90, 180, 90])
    assert account.requests_served == served


def test_sh_base_url_set_to_the_api_address_says_what_to_set(account, monkeypatch, capsys):
    import byocframe

    api = account.base_url + "/api/v1/byoc"
    monkeypatch.setenv("SH_BASE_URL", api)
    served = account.requests_served
    assert main(["collections"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"set SH_BASE_URL={account.base_url}" in err
    with pytest.raises(byocframe.ValidationError, match=r"set SH_BASE_URL=http://127\.0\.0\.1:"):
        byocframe.Client.from_env()
    assert main(["collections", "--base-url", api + "/"]) == 1
    assert f"set base_url to {account.base_url}" in capsys.readouterr().err
    assert account.requests_served == served


def test_a_not_found_error_is_not_its_own_cause(account):
    import byocframe

    for call in (
        lambda: byocframe.read_tiles(account.client(), "no-such-collection"),
        lambda: account.client().get_collection("no-such-collection"),
    ):
        with pytest.raises(byocframe.NotFoundError) as caught:
            call()
        seen = []
        err = caught.value
        while err is not None:  # IPython prints a self-caused error once per loop
            assert all(err is not other for other in seen)
            seen.append(err)
            err = err.__cause__
        assert len(seen) == 1


def test_a_corrupt_file_is_one_line_naming_it(account, tmp_path, capsys):
    import byocframe

    good = tmp_path / "tiles.gpkg"
    assert main(["tiles", account.demo_collection, "-o", str(good)]) == 0
    capsys.readouterr()
    whole = good.read_bytes()
    cases = {
        "noise.gpkg": (bytes(range(256)) * 20, "not a readable GeoPackage file"),
        "cut.gpkg": (whole[: len(whole) // 2], "not a readable GeoPackage file"),
        "noise.parquet": (bytes(range(256)) * 20, "not a readable GeoParquet file"),
        "noise.fgb": (bytes(range(256)) * 20, "not a readable FlatGeobuf file"),
    }
    served = account.requests_served
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        assert main(["push", account.demo_collection, str(path)]) == 1, name
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert f"error: {path}: {expected}" in err
        with pytest.raises(byocframe.ValidationError, match=expected):
            byocframe.read_file(path)
        for options in ({"rows": 5}, {"bbox": (0, 0, 1, 1)}, {"columns": ["path"]}):
            with pytest.raises(byocframe.ValidationError, match=expected):
                byocframe.read_file(path, **options)
    assert account.requests_served == served


def _stac_items(path):
    import pyarrow.parquet as pq
    from stac_geoparquet.arrow import stac_table_to_items

    return list(stac_table_to_items(pq.read_table(path)))


def test_the_command_streams_parquet_through_write_listing(account, tmp_path, capsys):
    import unittest.mock

    from geopandas.testing import assert_geodataframe_equal

    import byocframe
    from byocframe.io import geoparquet

    written = []
    write = geoparquet.ParquetSink.write

    def counting(self, gdf):
        written.append(len(gdf))
        return write(self, gdf)

    path = tmp_path / "tiles.parquet"
    cid = account.demo_collection
    with unittest.mock.patch.object(geoparquet.ParquetSink, "write", counting):
        assert main(["tiles", cid, "-o", str(path), "--batch-size", "64"]) == 0
    assert "400 tiles written to" in capsys.readouterr().out
    # batches of at most 64 rows, each written twice (scratch file, then the file)
    assert max(written) <= 64
    assert sum(written) == 800
    gdf = byocframe.read_tiles(account.client(), cid, progress=False)
    back = byocframe.read_file(path)
    assert_geodataframe_equal(back, gdf)
    assert back.attrs["byocframe"].pop("listed_at") < gdf.attrs["byocframe"].pop("listed_at")
    assert back.attrs == gdf.attrs


def test_the_command_writes_stac_geoparquet(account, tmp_path, capsys):
    import pyarrow.parquet as pq

    import byocframe

    path = tmp_path / "items.parquet"
    cid = account.demo_collection
    assert main(["tiles", cid, "-o", str(path), "--stac", "--batch-size", "100"]) == 0
    assert "400 STAC items written to" in capsys.readouterr().out
    # the frame path: the whole frame, then write_stac_geoparquet
    frame = byocframe.read_tiles(account.client(), cid, progress=False)
    byocframe.io.write_stac_geoparquet(frame, tmp_path / "frame.parquet", client=account.client())
    assert _stac_items(path) == _stac_items(tmp_path / "frame.parquet")
    meta = pq.ParquetFile(path).metadata  # written a batch (a row group) at a time
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= 100
    assert main(["tiles", cid, "-o", str(tmp_path / "items.gpkg"), "--stac"]) == 1
    err = capsys.readouterr().err
    assert "use one of .parquet" in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["tiles", cid, "-o", str(path), "--batch-size", "0"])
    assert "must be at least 1" in capsys.readouterr().err


def test_a_collection_is_named_by_its_id_or_its_name(tmp_path, capsys, monkeypatch):
    """`byocframe collections` shows names; each COLLECTION argument takes one."""
    import byocframe

    with byocframe.local_service(demo=True, demo_tiles=30) as service:
        monkeypatch.setenv("SH_CLIENT_ID", service.client_id)
        monkeypatch.setenv("SH_CLIENT_SECRET", service.client_secret)
        monkeypatch.setenv("SH_BASE_URL", service.base_url)
        name = service.client().get_collection(service.demo_collection)["name"]
        assert " " in name  # not a plain id: refused as one before
        assert main(["tiles", name, "-o", str(tmp_path / "t.parquet")]) == 0
        listed = byocframe.read_file(tmp_path / "t.parquet")
        assert listed.attrs["byocframe"]["collection"] == service.demo_collection
        capsys.readouterr()
        counts, printed = [], []
        for given in (service.demo_collection, name):
            served = service.requests_served
            assert main(["coverage", given]) == 0
            counts.append(service.requests_served - served)
            printed.append(capsys.readouterr().out)
        assert printed[0] == printed[1]
        assert counts[1] == counts[0] + 1  # a name costs one listing; an id none
        # an unknown name, and a name two collections share, are one line each
        assert main(["coverage", "no such collection"]) == 1
        err = capsys.readouterr().err
        assert "no collection has the id or name 'no such collection'" in err
        assert "byocframe collections" in err
        assert len(err.strip().splitlines()) == 1
        twin = service.client().create_collection({"name": name, "s3Bucket": "other-bucket"})
        assert main(["coverage", name]) == 1
        err = capsys.readouterr().err
        assert f"2 collections are named {name!r}" in err
        assert service.demo_collection in err
        assert twin["id"] in err


def test_no_credentials_says_what_to_set_on_the_command_line(capsys):
    """The conftest clears SH_* and points config.toml at an empty folder."""
    assert main(["collections"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("byocframe collections: error: no client id and no client secret")
    assert "SH_CLIENT_ID and SH_CLIENT_SECRET" in err
    assert "--client-id" in err
    assert "--profile" in err
    assert "byocframe serve --demo" in err  # no account: the local service
    assert "pass client_id" not in err  # the Python wording


def test_map_zooms_to_the_aoi_coverage_takes(account, tmp_path, capsys, monkeypatch):
    """'coverage C --aoi=...' then 'map C --aoi=...': the same AOI, now on the map."""
    import matplotlib.pyplot as plt

    drawn = {}
    real_savefig = plt.Figure.savefig

    def keep(figure, *args, **kwargs):
        drawn["ax"] = figure.axes[0]
        return real_savefig(figure, *args, **kwargs)

    monkeypatch.setattr(plt.Figure, "savefig", keep)
    out = tmp_path / "aoi.png"
    cid = account.demo_collection
    assert main(["map", cid, "--aoi", "-60,-30,-45,-15", "-o", str(out), "--no-basemap"]) == 0
    west, east = drawn["ax"].get_xlim()
    south, north = drawn["ax"].get_ylim()
    view = (west, east, south, north)  # the AOI and a small margin
    low, high = (-62, -45, -32, -15), (-60, -43, -30, -13)
    assert all(lo < v < hi for lo, v, hi in zip(low, view, high, strict=True)), view
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert main(["map", cid, "--aoi", "1,2,3", "-o", str(out)]) == 1
    assert "--aoi '1,2,3'" in capsys.readouterr().err


def test_push_clears_a_sensing_time_only_with_clear_times(tmp_path, monkeypatch, capsys):
    import pandas as pd

    import byocframe

    with byocframe.local_service(demo=True, demo_tiles=10) as service:
        monkeypatch.setenv("SH_CLIENT_ID", service.client_id)
        monkeypatch.setenv("SH_CLIENT_SECRET", service.client_secret)
        monkeypatch.setenv("SH_BASE_URL", service.base_url)
        cid = service.demo_collection
        client = service.client()
        gdf = byocframe.read_tiles(client, cid)
        tid = gdf.index[0]
        gdf.loc[tid, "sensing_time"] = pd.NaT
        path = tmp_path / "tiles.parquet"
        byocframe.write_file(gdf, path)
        assert main(["push", cid, str(path)]) == 1
        assert "--clear-times" in capsys.readouterr().err
        assert "sensingTime" in client.get_tile(cid, tid)
        assert main(["push", cid, str(path), "--clear-times"]) == 0
        assert "sensingTime" not in client.get_tile(cid, tid)


@pytest.mark.parametrize("suffix", [".parquet", ".gpkg"])
def test_tiles_takes_stac_clients_search_options(account, tmp_path, suffix):
    """``--bbox``, ``--datetime`` and ``--filter`` as ``stac-client search`` takes them
    (they were "unrecognized arguments"); the file holds what read_tiles finds."""
    import byocframe

    client = account.client()
    cid = account.demo_collection
    every = byocframe.read_tiles(client, cid)
    box = list(every[every["status"] == "INGESTED"].geometry.iloc[:5].total_bounds)
    want = byocframe.read_tiles(client, cid, bbox=box, datetime=("2024-06-01", None))
    assert 0 < len(want) < len(every)
    path = tmp_path / f"part{suffix}"
    argv = ["tiles", cid, "-o", str(path), "--bbox", *map(str, box), "--datetime", "2024-06-01/.."]
    assert main(argv) == 0
    got = byocframe.read_file(path)
    assert sorted(got.index) == sorted(want.index)
    assert got.attrs["byocframe"]["whole"] is False
    commas = tmp_path / f"commas{suffix}"
    assert main(["tiles", cid, "-o", str(commas), f"--bbox={','.join(map(str, box))}"]) == 0
    assert sorted(byocframe.read_file(commas).index) == sorted(
        byocframe.read_tiles(client, cid, bbox=box).index
    )


def test_a_bad_bbox_fails_in_one_line_before_any_request(account, tmp_path, capsys):
    served = account.requests_served
    for bad in (["--bbox", "1", "2", "3"], ["--bbox=1,2,x,4"]):
        assert main(["tiles", account.demo_collection, "-o", str(tmp_path / "t.gpkg"), *bad]) == 1
        err = capsys.readouterr().err
        assert "give west south east north in degrees" in err
        assert len(err.strip().splitlines()) == 1
    assert account.requests_served == served


def test_tiles_filter_keeps_what_read_tiles_keeps(account, tmp_path):
    import byocframe

    client = account.client()
    cid = account.demo_collection
    every = byocframe.read_tiles(client, cid)
    code = every.loc[every["status"] == "INGESTED", "native_crs"].iloc[0].rsplit(":", 1)[-1]
    cql = f"proj:epsg = {code}"
    want = byocframe.read_tiles(client, cid, filter=cql)
    assert 0 < len(want) < len(every)
    path = tmp_path / "one-zone.parquet"
    assert main(["tiles", cid, "-o", str(path), "--filter", cql]) == 0
    assert sorted(byocframe.read_file(path).index) == sorted(want.index)


def test_an_aoi_layer_added_to_a_tile_table_is_the_area_read(account, tmp_path, capsys):
    """`tiles -o t.gpkg`, an AOI layer added (as QGIS would): --aoi reads that layer."""
    import geopandas as gpd
    import shapely

    cid = account.demo_collection
    table = tmp_path / "tiles.gpkg"
    assert main(["tiles", cid, "-o", str(table)]) == 0
    box = (-10.0, 35.0, 30.0, 60.0)
    area = gpd.GeoDataFrame(geometry=[shapely.box(*box)], crs="EPSG:4326")
    area.to_file(table, layer="area")
    capsys.readouterr()
    assert main(["coverage", cid, "--aoi", ",".join(map(str, box))]) == 0
    expected = capsys.readouterr().out
    assert main(["coverage", cid, "--aoi", str(table)]) == 0
    assert capsys.readouterr().out == expected
    area.to_file(table, layer="other")
    assert main(["coverage", cid, "--aoi", str(table)]) == 1
    err = capsys.readouterr().err
    assert "3 layers" in err
    assert "--aoi-layer" in err
    assert main(["coverage", cid, "--aoi", str(table), "--aoi-layer", "area"]) == 0
    assert capsys.readouterr().out == expected
    assert main(["coverage", cid, "--aoi", str(table), "--aoi-layer", "nope"]) == 1
    assert "no layer 'nope'" in capsys.readouterr().err


def test_pushing_a_file_that_is_not_a_tile_table_says_so(account, tmp_path, capsys):
    import geopandas as gpd
    import shapely

    cid = account.demo_collection
    other = tmp_path / "roads.parquet"
    gpd.GeoDataFrame(
        {"name": ["a", "b"]}, geometry=[shapely.box(0, 0, 1, 1)] * 2, crs="EPSG:4326"
    ).to_parquet(other)
    assert main(["push", cid, str(other)]) == 1
    err = capsys.readouterr().err
    assert "not a tile table" in err
    assert "'0'" not in err  # not a row read as a tile id


def test_tiles_help_lists_every_file_type_write_file_takes(capsys):
    from byocframe.io.file_formats import FILE_FORMATS

    with pytest.raises(SystemExit):
        main(["tiles", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for extension in FILE_FORMATS:
        assert extension in out
