"""Statistics of tile frames.

Coverage and depth (exact, equal-area or geodesic), and a summary.
"""

from __future__ import annotations

from byocframe.tools.areas import aoi_geometry, geodesic_area
from byocframe.tools.depth import depth_areas
from byocframe.tools.stats import coverage, gaps, overlaps
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
