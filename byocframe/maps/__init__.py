"""Tile frames drawn.

Coverage maps and timelines (matplotlib) and self-contained web maps (Leaflet).
"""

from __future__ import annotations

from byocframe.maps.plotting import STATUS_COLORS, plot_coverage, plot_timeline
from byocframe.maps.webmap import TileMap, explore

__all__ = ["STATUS_COLORS", "TileMap", "explore", "plot_coverage", "plot_timeline"]
