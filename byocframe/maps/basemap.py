"""The background of a coverage map: web tiles, or the land layer shipped with byocframe.

Tiles are fetched with contextily on a worker thread and given up after
`BASEMAP_TIMEOUT` seconds; then, or when ``BYOCFRAME_OFFLINE`` is set, the Natural
Earth land layer is drawn instead, with a one-line warning the first time in a process.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from byocframe.exceptions import ByocframeWarning, user_stacklevel

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["BASEMAP_TIMEOUT", "draw_background"]

#: Seconds to wait for basemap tiles before drawing the shipped land layer instead.
BASEMAP_TIMEOUT = 8.0
_OFFLINE_ENV = "BYOCFRAME_OFFLINE"
# The basemap fallback is said once per process (a notebook draws many maps).
_fallback_said = threading.Event()


def draw_background(ax: Axes, bounds: tuple[float, float, float, float], basemap: Any) -> None:
    """Draw the map's background on ``ax`` for ``bounds`` (west, south, east, north).

    ``basemap`` as `byocframe.maps.plotting.plot_coverage` takes it: None (web tiles
    unless ``BYOCFRAME_OFFLINE`` is set), False (nothing), True, a contextily provider or
    a tile URL. Tiles that do not come within `BASEMAP_TIMEOUT` seconds give way to the
    shipped land layer.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> figure, ax = plt.subplots()
    >>> draw_background(ax, (0.0, 40.0, 20.0, 50.0), basemap=False)  # no background
    >>> len(ax.collections), len(ax.images)
    (0, 0)
    >>> plt.close(figure)
    """
    if basemap is False:
        return
    if basemap is None and os.environ.get(_OFFLINE_ENV):
        _draw_land(ax)
        return
    source = None if basemap in (None, True) else basemap
    image, problem = _fetch_tiles(bounds, source)
    if image is None:
        if not _fallback_said.is_set():
            _fallback_said.set()
            warnings.warn(
                f"no basemap tiles ({problem}): drawing the land layer shipped with "
                f"byocframe instead; set {_OFFLINE_ENV}=1 to skip the download "
                "(said once per process)",
                ByocframeWarning,
                stacklevel=user_stacklevel(),
            )
        _draw_land(ax)
        return
    pixels, extent = image
    ax.imshow(pixels, extent=extent, interpolation="bilinear", zorder=0)


def _fetch_tiles(bounds: tuple[float, float, float, float], source: Any) -> tuple[Any, str]:
    """Fetch web tiles for ``bounds`` on a worker thread; give up after BASEMAP_TIMEOUT."""
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            import contextily as ctx

            provider = source if source is not None else ctx.providers.OpenStreetMap.Mapnik
            west, south, east, north = bounds
            south, north = max(south, -85.0), min(north, 85.0)
            img, ext = ctx.bounds2img(west, south, east, north, ll=True, source=provider)
            img, ext = ctx.warp_tiles(img, ext, t_crs="EPSG:4326")
            result["image"] = (img, (ext[0], ext[1], ext[2], ext[3]))
        except Exception as err:  # the library's own text is many lines of urllib3
            result["problem"] = _reason(err)

    thread = threading.Thread(target=work, name="byocframe-basemap", daemon=True)
    thread.start()
    thread.join(BASEMAP_TIMEOUT)
    if thread.is_alive():
        return None, f"no answer within {BASEMAP_TIMEOUT:.0f} s"
    return result.get("image"), result.get("problem", "")


def _reason(err: BaseException) -> str:
    """A few words on why tiles did not come: the innermost cause's type."""
    cause: BaseException = err
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(err).lower()
    if "name resolution" in text or "nodename" in text or "name or service" in text:
        return "the tile server's name does not resolve"
    if "refused" in text:
        return "connection refused"
    if "timed out" in text or "timeout" in text:
        return "timed out"
    return type(cause).__name__


def _draw_land(ax: Axes) -> None:
    from byocframe.frame.synthetic import land

    ax.set_facecolor("#dceaf5")
    gpd.GeoSeries([land()], crs="EPSG:4326").plot(
        ax=ax, color="#f1efe6", edgecolor="#b9b4a5", linewidth=0.4, zorder=0
    )
