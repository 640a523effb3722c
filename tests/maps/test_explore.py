"""byocframe.maps.webmap: the saved page (offline, compact, right data) and in a real browser.

The browser tests drive Debian's chromium over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: no port, no extra package). They skip where
/usr/bin/chromium is absent, except under CI (``CI`` set), which installs it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely

import byocframe
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.maps.plotting import STATUS_COLORS
from byocframe.maps.webmap import OSM_TILES, explore

CHROMIUM = os.environ.get("BYOCFRAME_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def tiles():
    gdf = byocframe.tiles_from_records(synthetic_tiles(300, seed=3))
    gdf["status"] = gdf["status"].astype("string")
    # every 15th tile FAILED (spread over the grid) with a cause that needs escaping
    gdf.loc[gdf.index[::15], "status"] = "FAILED"
    gdf.loc[gdf.index[::15], "failed_ingestion_cause"] = "COG <check> failed & more"
    return gdf


def page_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="byoc-data">(.*?)</script>', html, re.S)
    assert found, "no data block in the page"
    return json.loads(found.group(1))


def layer(html: str, number: int = 0) -> dict[str, Any]:
    """One frame's layer of the page's data."""
    return page_data(html)["layers"][number]


def int32(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<i4")


def decode_tiles(packed: dict[str, Any]) -> list[shapely.Geometry]:
    """Rebuild the drawn footprints the way the page script does."""
    xy = int32(packed["coords"]).reshape(-1, 2) / packed["scale"]
    rings, parts, tiles = (int32(packed[k]) for k in ("rings", "parts", "tiles"))
    out = []
    for t in range(len(tiles) - 1):
        polygons = []
        for p in range(tiles[t], tiles[t + 1]):
            shell, *holes = (xy[rings[r] : rings[r + 1]] for r in range(parts[p], parts[p + 1]))
            polygons.append(shapely.Polygon(shell, holes))
        out.append(shapely.MultiPolygon(polygons))
    return out


def remote_loads(html: str) -> list[str]:
    """Every script, stylesheet, font or import the page would fetch over the network."""
    patterns = [
        r"<script[^>]*\ssrc\s*=\s*[\"']?([^\"' >]+)",
        r"<link[^>]*\shref\s*=\s*[\"']?([^\"' >]+)",
        r"url\(\s*[\"']?(https?:[^)\"']+)",
        r"@import\s+[\"']?(https?:[^\"';]+)",
    ]
    return [m for p in patterns for m in re.findall(p, html, re.I)]


# --- the page, read in Python ------------------------------------------------------------


def test_page_is_self_contained_and_offline(tiles):
    page = explore(tiles, basemap=False).html
    assert remote_loads(page) == []
    assert "Leaflet 1.9" in page  # the library is inside the page
    assert OSM_TILES not in page
    assert "https://tile" not in page


def test_offline_env_drops_web_tiles_and_basemap_none_adds_them(tiles, monkeypatch):
    assert page_data(explore(tiles).html)["basemap"] is None  # conftest sets the env var
    monkeypatch.delenv("BYOCFRAME_OFFLINE")
    online = page_data(explore(tiles).html)["basemap"]
    assert online["url"] == OSM_TILES
    assert "OpenStreetMap" in online["attribution"]
    custom = "http://127.0.0.1:9/{z}/{x}/{y}.png"
    assert page_data(explore(tiles, basemap=custom, attr="me").html)["basemap"]["url"] == custom
    assert remote_loads(explore(tiles).html) == []  # tiles are images, not page resources


def test_drawn_outlines_stay_within_tolerance_of_the_footprints(tiles):
    tolerance = 0.01
    data = layer(explore(tiles, basemap=False, tolerance=tolerance).html)
    drawn = decode_tiles(data["tiles"])
    assert len(drawn) == len(tiles)
    original = tiles.geometry.to_numpy()
    # Douglas-Peucker keeps vertices within the tolerance of the outline (the discrete
    # Hausdorff distance can read a little more on polar caps); rounding adds half a unit
    # of the last kept decimal per coordinate
    slack = 1.25 * tolerance + 1 / data["tiles"]["scale"]
    distance = shapely.hausdorff_distance(np.asarray(drawn, dtype=object), original)
    assert distance.max() <= slack
    area_ratio = shapely.area(np.asarray(drawn, dtype=object)) / shapely.area(original)
    assert np.allclose(area_ratio, 1, atol=0.02)
    before = shapely.get_num_coordinates(original).sum()
    assert int32(data["tiles"]["coords"]).size // 2 < before / 2  # simplified for display


def test_tolerance_zero_keeps_every_vertex(tiles):
    data = layer(explore(tiles.head(10), basemap=False, tolerance=0).html)
    assert (
        int32(data["tiles"]["coords"]).size // 2
        == shapely.get_num_coordinates(tiles.head(10).geometry.to_numpy()).sum()
    )


def test_status_classes_colours_and_popup_fields(tiles):
    data = layer(explore(tiles, basemap=False).html)
    classes = data["classes"]
    assert classes["labels"][-1] == "FAILED"  # drawn last, so on top
    assert dict(zip(classes["labels"], classes["colors"], strict=True)) == {
        k: STATUS_COLORS[k] for k in classes["labels"]
    }
    codes = int32(classes["codes"])
    shown = np.asarray(classes["labels"])[codes]
    assert (shown == tiles["status"].to_numpy()).all()
    fields = {f["name"]: f for f in data["fields"]}
    assert list(fields) == ["path", "status", "sensing_time", "failed_ingestion_cause", "id"]
    paths = np.asarray(fields["path"]["values"])[int32(fields["path"]["codes"])]
    assert (paths == tiles["path"].to_numpy()).all()
    cause = fields["failed_ingestion_cause"]
    cause_codes = int32(cause["codes"])
    no_cause = tiles["failed_ingestion_cause"].isna().to_numpy()
    assert no_cause.any()
    assert ((cause_codes == -1) == no_cause).all()  # no cause: no popup row
    assert {cause["values"][c] for c in cause_codes[::15]} == {"COG <check> failed & more"}
    ids = np.asarray(fields["id"]["values"])[int32(fields["id"]["codes"])]
    assert (ids == tiles.index.to_numpy()).all()
    first = tiles["sensing_time"].iloc[0].tz_convert("UTC")
    assert fields["sensing_time"]["values"][0] == f"{first:%Y-%m-%d %H:%M:%S} UTC"


def test_page_survives_script_end_tags_in_values(tiles):
    evil = tiles.head(3).copy()
    evil["path"] = "</script><script>alert(1)</script>/(BAND).tif"
    page = explore(evil, basemap=False).html
    assert page.count("</script>") == 3  # data, Leaflet, page script: none from the value
    values = {f["name"]: f["values"] for f in layer(page)["fields"]}
    assert values["path"] == ["</script><script>alert(1)</script>/(BAND).tif"]


def test_missing_geometry_is_counted_not_drawn(tiles):
    gaps = tiles.head(10).copy()
    gaps.loc[gaps.index[:3], "geometry"] = None
    m = explore(gaps, basemap=False)
    assert (m.drawn, m.hidden) == (7, 3)
    data = layer(m.html)
    assert len(decode_tiles(data["tiles"])) == 7
    assert "3 without a polygon footprint not drawn" in data["info"]
    paths = data["fields"][0]
    assert paths["values"] == gaps["path"].iloc[3:].tolist()


def test_other_columns_are_classed(tiles):
    by_date = layer(explore(tiles, "sensing_time", basemap=False).html)["classes"]
    days = tiles["sensing_time"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d")
    assert by_date["labels"] == sorted(days.unique())  # one class per UTC date
    assert (np.asarray(by_date["labels"])[int32(by_date["codes"])] == days.to_numpy()).all()
    spread = tiles.assign(sensing_time=pd.date_range("2024-01-01", periods=len(tiles), tz="UTC"))
    by_bins = layer(explore(spread, "sensing_time", basemap=False).html)["classes"]
    assert len(by_bins["labels"]) == 6  # 300 dates: equal-count classes
    assert by_bins["labels"][0].startswith("2024-01-01")
    numbers = tiles.assign(size=np.arange(len(tiles), dtype=float))
    binned = layer(explore(numbers, "size", basemap=False).html)["classes"]
    counts = np.bincount(int32(binned["codes"]))
    assert len(binned["labels"]) == 6
    assert counts.max() - counts.min() <= 1  # equal-count classes
    plain = layer(explore(tiles, None, basemap=False).html)["classes"]
    assert plain["labels"] == ["tiles"]


def test_accessor_and_save(tiles, tmp_path):
    m = tiles.byoc.explore(basemap=False)
    path = m.save(tmp_path / "map.html")
    assert path.read_text(encoding="utf-8") == m.html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.html"]  # no partial file left
    assert m._repr_html_().startswith("<iframe srcdoc=")
    assert "&lt;script&gt;" in m._repr_html_()  # the page is escaped into the attribute
    assert "drawn=300" in repr(m)


def test_save_takes_home_and_refuses_a_missing_folder(tiles, tmp_path, monkeypatch):
    """'~/map.html' failed on a '~/.map.html.<pid>.partial' (as write_file, ~ is home)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    m = tiles.iloc[:10].byoc.explore(basemap=False)
    assert m.save("~/map.html") == tmp_path / "map.html"
    assert (tmp_path / "map.html").read_text(encoding="utf-8") == m.html
    with pytest.raises(byocframe.ValidationError, match="no-such-folder: folder not found"):
        m.save(tmp_path / "no-such-folder" / "map.html")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"column": "nope"}, "column='nope' is not a column"),
        ({"popup": ["path", "nope"]}, "popup column 'nope'"),
        ({"tolerance": -1}, "tolerance must be >= 0"),
        ({"tolerance": float("nan")}, "tolerance must be >= 0"),
        ({"basemap": "no-placeholders"}, "neither a tile URL"),
        ({"tiles": "no-placeholders"}, "neither a tile URL"),
        ({"tiles": 3}, "tiles must be"),
        ({"tiles": None, "basemap": False}, "not both"),
        ({"tooltip": ["nope"]}, "tooltip column 'nope'"),
        ({"popup": "nope"}, "popup column 'nope'"),
        ({"cmap": "no-such-colormap"}, "not a matplotlib colormap"),
        ({"cmap": ["red", "not-a-colour"]}, "cmap must be"),
        ({"style_kwds": {"fillopacity": 0.2}}, "'fillopacity' is not a Leaflet path option"),
        ({"style_kwds": {"style_function": print}}, "style_function"),
        ({"m": "a folium map"}, "m must be a TileMap"),
    ],
)
def test_bad_arguments(tiles, kwargs, match):
    with pytest.raises(ValueError, match=match):
        explore(tiles, **kwargs)


# --- the page, in a real browser ---------------------------------------------------------


class Browser:
    """Headless chromium driven over the DevTools protocol on fds 3 and 4."""

    def __init__(self, profile: Path, width: int = 1200, height: int = 800):
        to_chrome, self._write = os.pipe()
        self._read, from_chrome = os.pipe()

        def wire() -> None:  # chromium reads commands on fd 3 and answers on fd 4
            os.dup2(to_chrome, 3)
            os.dup2(from_chrome, 4)

        args = [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--remote-debugging-pipe", f"--user-data-dir={profile}",
            f"--window-size={width},{height}", "about:blank",
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            args,
            preexec_fn=wire,  # the test process starts no threads
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def close(self) -> None:
        os.close(self._write)
        self._proc.kill()
        self._proc.wait(timeout=30)
        os.close(self._read)

    def _message(self, timeout: float = 120.0) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            # a hung browser fails the test instead of blocking the suite
            if not select.select([self._read], [], [], timeout)[0]:
                raise TimeoutError(f"chromium sent nothing for {timeout:.0f} s")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._message()
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, event: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for seen in self.events:
                if seen.get("method") == event:
                    return seen
            self.events.append(self._message())
        raise TimeoutError(event)

    def open_page(self) -> None:
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Uncaught errors, console errors and warnings, and browser log errors."""
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(json.dumps(params["exceptionDetails"])[:300])
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning"):
                out.append(json.dumps(params["args"])[:300])
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                out.append(params["entry"]["text"][:300])
        return out

    def requested(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]


@pytest.fixture
def browser(tmp_path):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):  # CI installs it: a missing browser is a broken CI
            pytest.fail(f"no chromium at {CHROMIUM}: .ci/run must apt-get install chromium")
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium; CI installs it)")
    running = Browser(tmp_path / "profile")
    try:
        running.open_page()
        yield running
    finally:
        running.close()


# Resolves once the page script has drawn and two frames have been painted.
WAIT_FOR_MAP = """new Promise(resolve => {
  const check = () => document.body && document.body.dataset.drawn
    ? requestAnimationFrame(() => requestAnimationFrame(() => resolve(document.body.dataset.drawn)))
    : setTimeout(check, 50);
  check();
})"""


def load(browser: Browser, path: Path) -> int:
    browser.send("Page.navigate", url=path.as_uri())
    browser.wait_for("Page.loadEventFired")
    return int(browser.evaluate(WAIT_FOR_MAP))


def on_screen(browser: Browser, point: shapely.Point) -> list[float]:
    """The page pixel of a longitude/latitude point."""
    return browser.evaluate(
        f"(p => [p.x, p.y])(byocframeMap.latLngToContainerPoint([{point.y}, {point.x}]))"
    )


def click(browser: Browser, point: shapely.Point) -> str | None:
    """Click the map at a point; the text of the popup that opened, or None."""
    xy = on_screen(browser, point)
    for kind in ("mousePressed", "mouseReleased"):
        browser.send(
            "Input.dispatchMouseEvent", type=kind, x=xy[0], y=xy[1], button="left", clickCount=1
        )
    return browser.evaluate("document.querySelector('.leaflet-popup-content')?.innerText ?? null")


def screenshot(browser: Browser, save_to: Path) -> np.ndarray:
    """The map without its controls (the legend's swatches are in the tile colours)."""
    from PIL import Image

    controls = "document.querySelector('.leaflet-control-container').style.visibility"
    browser.evaluate(f"{controls} = 'hidden'")
    png = base64.b64decode(browser.send("Page.captureScreenshot", format="png")["data"])
    browser.evaluate(f"{controls} = ''")
    save_to.write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def hue_pixels(pixels: np.ndarray) -> dict[str, int]:
    """Pixels dominated by the green of INGESTED or the red of FAILED.

    The background is sea blue (#dceaf5) or land beige (#f1efe6): neither is green- or
    red-dominated, so these count only drawn tiles.
    """
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return {
        "INGESTED": int(((g - r > 25) & (g - b > 25)).sum()),
        "FAILED": int(((r - g > 40) & (r - b > 40)).sum()),
    }


@pytest.mark.slow
def test_20k_tiles_draw_offline_in_a_browser(browser, tmp_path):
    gdf = byocframe.tiles_from_records(synthetic_tiles(20_000, seed=1))
    path = explore(gdf, basemap=False).save(tmp_path / "tiles.html")
    assert path.stat().st_size < 8e6  # plain geopandas explore(): about 65 MB

    drawn = load(browser, path)
    pixels = screenshot(browser, tmp_path / "tiles.png")

    assert drawn == len(gdf)
    counts = hue_pixels(pixels)
    assert counts["INGESTED"] > 20_000, counts  # 19,414 INGESTED tiles cover much of the map
    assert counts["FAILED"] > 200, counts  # 196 FAILED tiles, drawn on top
    assert browser.problems() == []
    assert [u for u in browser.requested() if not u.startswith(("file:", "data:"))] == []


def test_popup_shows_the_clicked_tile_and_nothing_loads_remotely(browser, tiles, tmp_path):
    # Leaflet opens the topmost tile under the click: of the FAILED tiles (drawn last)
    # holding the point, the last in frame order
    red = tiles[tiles["status"] == "FAILED"]
    ours = red[red["failed_ingestion_cause"] == "COG <check> failed & more"]
    point = next(
        p for p in ours.geometry.representative_point() if abs(p.y) < 75 and abs(p.x) < 175
    )
    failed = red[red.geometry.contains(point)].iloc[-1]
    path = explore(tiles, basemap=False).save(tmp_path / "tiles.html")
    assert load(browser, path) == len(tiles)
    blank = hue_pixels(screenshot(browser, tmp_path / "before.png"))

    text = click(browser, point)
    assert text is not None, "no popup opened"
    assert failed["path"] in text
    assert "FAILED" in text
    assert failed["failed_ingestion_cause"] in text  # escaped into the popup, shown as text
    assert browser.evaluate("document.querySelectorAll('.byoc-popup script').length") == 0

    assert blank["INGESTED"] > 0
    assert blank["FAILED"] > 0
    assert browser.problems() == []
    assert [u for u in browser.requested() if not u.startswith(("file:", "data:"))] == []


def test_web_tiles_that_cannot_load_leave_the_land_layer(browser, tiles, tmp_path):
    # a closed loopback port: every tile fails, as on an air-gapped machine
    page = explore(tiles, tiles="http://127.0.0.1:9/{z}/{x}/{y}.png", attr="test tiles")
    drawn = load(browser, page.save(tmp_path / "tiles.html"))
    pixels = screenshot(browser, tmp_path / "tiles.png")
    assert drawn == len(tiles)
    land = np.all(np.abs(pixels - np.array([0xF1, 0xEF, 0xE6])) <= 2, axis=-1)
    assert land.mean() > 0.02  # the Natural Earth land still shows
    tiles_asked = [u for u in browser.requested() if u.startswith("http://127.0.0.1:9/")]
    assert tiles_asked  # it did try the web tiles
    assert all(u.startswith(("file:", "data:", "http://127.0.0.1:9/")) for u in browser.requested())
    assert hue_pixels(pixels)["INGESTED"] > 0
    assert [e for e in browser.events if e.get("method") == "Runtime.exceptionThrown"] == []


def test_a_frame_with_nothing_to_draw_still_makes_a_working_page(browser, tiles, tmp_path):
    nothing = tiles.head(5).copy()
    nothing["geometry"] = None
    m = explore(nothing, basemap=False)
    assert (m.drawn, m.hidden) == (0, 5)
    assert load(browser, m.save(tmp_path / "empty.html")) == 0
    assert browser.evaluate("byocframeMap.getZoom()") >= 0  # a world view, not NaN
    assert hue_pixels(screenshot(browser, tmp_path / "empty.png")) == {"INGESTED": 0, "FAILED": 0}
    assert browser.problems() == []


# --- geopandas' explore() conventions ---------------------------------------------------


def test_popup_and_tooltip_follow_geopandas_conventions(tiles):
    geometries = {"geometry", "tile_geometry", "native_cover", "native_tile"}
    every = ["id", *[c for c in tiles.columns if c not in geometries]]

    def shown(which, **kwargs):
        data = layer(explore(tiles.head(20), basemap=False, **kwargs).html)
        return [data["fields"][i]["name"] for i in data[which]]

    assert shown("popup", popup=True) == every  # was a TypeError
    assert shown("popup", popup=False) == []
    assert shown("popup", popup="path") == ["path"]
    assert shown("popup", popup=2) == every[:2]
    assert shown("popup") == ["path", "status", "sensing_time", "failed_ingestion_cause", "id"]
    assert shown("tooltip") == ["path", "status"]  # short: what a hover needs
    assert shown("tooltip", tooltip=True) == every
    assert shown("tooltip", tooltip=False) == []
    assert shown("tooltip", tooltip=["sensing_time"]) == ["sensing_time"]
    assert shown("tooltip", column="sensing_time") == ["path", "sensing_time"]
    # a column shown by both travels once
    data = layer(explore(tiles.head(20), basemap=False, popup=True, tooltip=True).html)
    assert [f["name"] for f in data["fields"]] == every


def test_custom_tiles_carry_their_attribution(tiles, monkeypatch):
    url = "http://127.0.0.1:9/{z}/{x}/{y}.png"
    with pytest.raises(ValueError, match="custom tiles need an attribution: pass attr="):
        explore(tiles, tiles=url)
    with pytest.raises(ValueError, match="custom tiles need an attribution"):
        explore(tiles, basemap=url)  # the earlier spelling too
    credit = '&copy; <a href="https://example.org">Example maps</a>'
    assert page_data(explore(tiles, tiles=url, attr=credit).html)["basemap"] == {
        "url": url,
        "attribution": credit,
    }
    # a named xyzservices provider brings its own credit; attr replaces it
    import xyzservices.providers as xyz

    topo = page_data(explore(tiles, tiles="OpenTopoMap").html)["basemap"]
    assert topo["url"] == xyz.OpenTopoMap.build_url()
    assert topo["attribution"] == xyz.OpenTopoMap.html_attribution
    assert "OpenTopoMap" in topo["attribution"]
    provider = page_data(explore(tiles, tiles=xyz.OpenTopoMap, attr="mine").html)["basemap"]
    assert provider["attribution"] == "mine"
    # tiles=None: no web tiles (the land layer only); default OSM dropped offline only
    assert page_data(explore(tiles, tiles=None).html)["basemap"] is None
    assert page_data(explore(tiles).html)["basemap"] is None  # BYOCFRAME_OFFLINE (conftest)
    monkeypatch.delenv("BYOCFRAME_OFFLINE")
    osm = page_data(explore(tiles, tiles="OpenStreetMap").html)["basemap"]
    assert osm["url"] == OSM_TILES
    assert "OpenStreetMap</a> contributors" in osm["attribution"]


def test_cmap_colours_the_classes(tiles):
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap, to_hex

    by_date = layer(explore(tiles, "sensing_time", basemap=False, cmap="magma").html)["classes"]
    magma = colormaps["magma"]
    assert by_date["colors"] == [to_hex(magma(x)) for x in np.linspace(0, 0.9, 4)]
    listed = layer(explore(tiles, "sensing_time", basemap=False, cmap=["red", "#0000ff"]).html)
    assert listed["classes"]["colors"] == ["#ff0000", "#0000ff", "#ff0000", "#0000ff"]
    own = ListedColormap(["#123456"])
    plain = layer(explore(tiles, None, basemap=False, cmap=own).html)["classes"]
    assert plain["colors"] == ["#123456"]
    status = layer(explore(tiles, basemap=False, cmap=["black"]).html)["classes"]
    assert set(status["colors"]) == {"#000000"}  # cmap overrides the status colours too


def test_style_kwds_reach_the_layer(tiles):
    style = {"weight": 3, "fillOpacity": 0.1, "dashArray": "4 2", "color": "#ff00ff"}
    data = layer(explore(tiles, basemap=False, style_kwds=style).html)
    assert data["style"] == style
    assert layer(explore(tiles, basemap=False).html)["style"] == {}


def test_m_adds_a_layer_to_an_existing_map(tiles):
    first = explore(tiles.iloc[:100], basemap=False, title="both")
    same = explore(tiles.iloc[100:130], "sensing_time", m=first, name="late", tiles="OpenTopoMap")
    assert same is first  # as GeoDataFrame.explore(m=...) returns the map it drew on
    assert (first.drawn, first.hidden) == (130, 0)
    data = page_data(first.html)
    assert [entry["name"] for entry in data["layers"]] == ["tiles", "late"]
    assert data["basemap"] is None  # the map's own tiles stay (tiles= applies to new maps)
    assert len(decode_tiles(data["layers"][1]["tiles"])) == 30
    assert "<title>both</title>" in first.html
    assert "2 layers" in repr(first)


def test_tiles_without_a_footprint_stay_in_legend_and_caption(tiles):
    gaps = tiles.head(40).copy()
    failed = gaps["status"] == "FAILED"
    assert failed.sum() == 3  # every 15th tile of the fixture
    gaps.loc[failed, "geometry"] = None  # every FAILED tile lost its footprint
    data = layer(explore(gaps, basemap=False).html)
    classes = data["classes"]
    # FAILED has no drawn tile, yet it is a legend class with its count
    assert classes["labels"] == ["INGESTED", "FAILED"]
    assert classes["hidden"] == [0, 3]
    assert np.bincount(int32(classes["codes"]), minlength=2).tolist() == [37, 0]
    assert "3 without a polygon footprint not drawn" in data["info"]
    named = [line for line in data["info"] if line.startswith("not drawn: ")]
    assert named == [f"not drawn: {p} (FAILED)" for p in gaps.loc[failed, "path"]]


# --- Leaflet ships with byocframe ----------------------------------------------------------


def test_leaflet_is_shipped_with_licence_and_recorded_hashes(tiles, monkeypatch):
    import hashlib
    import sys
    import tomllib

    data = Path(byocframe.__file__).parent / "data"
    provenance = (data / "PROVENANCE.md").read_text()
    recorded = dict(
        re.findall(r"\| `(leaflet/[\w./-]+)` \| \d+ \| `([0-9a-f]{64})` \|", provenance)
    )
    assert set(recorded) == {
        "leaflet/leaflet.js",
        "leaflet/leaflet.css",
        "leaflet/images/layers.png",
        "leaflet/images/layers-2x.png",
        "leaflet/images/marker-icon.png",
    }
    for name, digest in recorded.items():
        assert hashlib.sha256((data / name).read_bytes()).hexdigest() == digest, name
    licence = (data / "leaflet" / "LICENSE").read_text()
    assert licence.startswith("BSD 2-Clause License")
    assert "Volodymyr Agafonkin" in licence
    assert "Leaflet 1.9.4" in (data / "leaflet" / "leaflet.js").read_text()[:200]
    # no third-party Leaflet package: the page builds with it made unimportable
    monkeypatch.setitem(sys.modules, "js_lib_leaflet", None)
    page = explore(tiles.head(3), basemap=False).html
    assert "Leaflet 1.9.4" in page
    assert "@preserve" in page  # the licence banner travels in every page
    assert remote_loads(page) == []
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    assert not [d for deps in extras.values() for d in deps if "leaflet" in d.lower()]


@pytest.mark.slow
def test_options_work_in_a_browser(browser, tiles, tmp_path):
    """popup=True, tooltip, style_kwds, m= and a custom basemap's attribution, drawn."""
    ingested = tiles[tiles["status"] == "INGESTED"]
    m = explore(
        ingested.iloc[:-20],
        popup=True,
        tiles="http://127.0.0.1:9/{z}/{x}/{y}.png",
        attr="Tiles by <b>Example</b>",
    )
    # the second layer painted pure blue, no outline: its tiles must show that colour
    explore(
        ingested.iloc[-20:],
        None,
        m=m,
        name="second",
        style_kwds={"fillColor": "#0000ff", "fillOpacity": 1, "stroke": False},
        tooltip="path",
    )
    assert load(browser, m.save(tmp_path / "two.html")) == len(ingested)
    pixels = screenshot(browser, tmp_path / "two.png")
    blue = np.all(pixels == [0, 0, 255], axis=-1).sum()
    assert blue > 1000
    assert hue_pixels(pixels)["INGESTED"] > 1000  # the first layer's status colours

    attribution = browser.evaluate(
        "document.querySelector('.leaflet-control-attribution').innerText"
    )
    assert "Tiles by Example" in attribution
    legend = browser.evaluate("document.querySelector('.leaflet-control-layers').innerText")
    assert "second: tiles" in legend
    assert "tiles: INGESTED" in legend

    # hover a tile of the second layer: its tooltip names it
    second = ingested.iloc[-20:]
    point = next(p for p in second.geometry.representative_point() if abs(p.y) < 70)
    top = second[second.geometry.contains(point)].iloc[-1]
    xy = on_screen(browser, point)
    browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=xy[0], y=xy[1])
    tip = browser.evaluate(
        "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r("
        "document.querySelector('.leaflet-tooltip')?.innerText ?? null))))"
    )
    assert tip is not None, "no tooltip on hover"
    assert top["path"] in tip
    assert "status" not in tip  # tooltip="path": only that column

    # click a tile of the first layer only: popup=True shows every column
    first = ingested.iloc[:-20]
    alone = next(
        p
        for p in first.geometry.representative_point()
        if abs(p.y) < 70 and not second.geometry.contains(p).any()
    )
    clicked = first[first.geometry.contains(alone)].iloc[-1]
    text = click(browser, alone)
    assert text is not None, "no popup opened"
    assert clicked["path"] in text
    for name in ("geometry_source", "native_crs", "created"):
        if name in first.columns:
            assert name in text
    # only the web tiles of the closed port fail; no script error or warning
    assert [p for p in browser.problems() if "Failed to load resource" not in p] == []


def test_geopandas_color_categorical_legend_width_height(tiles):
    """explore(color=, categorical=, legend=, width=, height=) as geopandas takes them;
    each was a TypeError ("unexpected keyword argument") before."""
    red = layer(tiles.byoc.explore(color="red", tiles=None).html)
    assert red["classes"]["labels"] == ["tiles"]
    assert red["classes"]["colors"] == ["#ff0000"]
    counts = tiles.assign(n=np.arange(len(tiles)) % 9)
    binned = layer(explore(counts, "n", tiles=None).html)["classes"]["labels"]
    assert len(binned) == 6  # nine values in six equal-count classes
    each = layer(explore(counts, "n", categorical=True, tiles=None).html)["classes"]["labels"]
    assert sorted(each, key=int) == [str(v) for v in range(9)]
    assert layer(explore(tiles, tiles=None).html)["legend"] is True
    assert layer(explore(tiles, tiles=None, legend=False).html)["legend"] is False
    shown = explore(tiles.head(3), tiles=None, width=600, height="50%")._repr_html_()
    assert "width:600px;height:50%" in shown
    assert "width:100%;height:560px" in explore(tiles.head(3), tiles=None)._repr_html_()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"color": ["red", "blue"]}, "color= takes one colour"),
        ({"width": "wide"}, "width must be pixels"),
        ({"height": 0}, "height must be pixels"),
    ],
)
def test_bad_geopandas_arguments(tiles, kwargs, match):
    with pytest.raises(ValueError, match=match):
        explore(tiles, **kwargs)


@pytest.mark.slow
def test_legend_false_shows_no_legend_in_a_browser(browser, tiles, tmp_path):
    m = explore(tiles.iloc[:100], tiles=None, legend=False)
    assert load(browser, m.save(tmp_path / "none.html")) == 100
    assert browser.evaluate("document.querySelector('.leaflet-control-layers')") is None
    explore(tiles.iloc[100:], "sensing_time", m=m, name="late")  # a layer with a legend
    assert load(browser, m.save(tmp_path / "one.html")) == len(tiles)
    legend = browser.evaluate("document.querySelector('.leaflet-control-layers').innerText")
    assert "late: 2024-07-01" in legend
    assert "INGESTED" not in legend  # the first layer's classes stay out of it
    assert browser.problems() == []
