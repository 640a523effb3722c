"""Statistics of tile frames.

Coverage and depth (exact, equal-area or geodesic), and a summary.
"""

from __future__ import annotations

from byocframe.tools.depth import depth_areas
from byocframe.tools.stats import aoi_geometry, coverage, gaps, geodesic_area, overlaps
from byocframe.tools.summary import Summary, summarize

__all__ = [
    "Summary",
    "aoi_geometry",
    "coverage",
    "depth_areas",
    "gaps",
    "geodesic_area",
    "overlaps",
    "summarize",
]
