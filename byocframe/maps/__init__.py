"""Tile frames drawn.

Coverage maps and timelines (matplotlib) and self-contained web maps (Leaflet), with
levels of detail for large frames.
"""

from __future__ import annotations

from byocframe.maps.columns import STATUS_COLORS
from byocframe.maps.lod import DEFAULT_LOD, LevelOfDetail
from byocframe.maps.plotting import plot_coverage
from byocframe.maps.timeline import plot_timeline
from byocframe.maps.webmap import TileMap, explore

__all__ = [
    "DEFAULT_LOD",
    "STATUS_COLORS",
    "LevelOfDetail",
    "TileMap",
    "explore",
    "plot_coverage",
    "plot_timeline",
]
