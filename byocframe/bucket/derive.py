"""What the service will derive from a tile's files: its box, CRS and meters per pixel.

COG_RULES 4 (best knowledge): the tile box is the files' common bounding box in their
CRS, ``min_meters_per_pixel`` the finest resolution and ``max_meters_per_pixel`` 5 x
the median resolution of the lowest overview of at least 256 px, at least 500. The
figures come from `byocframe.file_rules` through `byocframe.bucket.rules.DEFAULT_RULES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from byocframe.bucket.rules import DEFAULT_RULES
from byocframe.bucket.tiles import assign_tiles

__all__ = ["derived", "predict"]


def predict(files: pd.DataFrame, pattern: str) -> pd.DataFrame:
    """What the service will derive for each tile: tile box and meters per pixel.

    ``tile_box`` is the files' common bounding box in their CRS; ``min_meters_per_pixel``
    the finest resolution; ``max_meters_per_pixel`` 5 x the median resolution of the
    lowest overview of at least 256 px, at least 500 (COG_RULES 4, best knowledge).
    """
    assigned = assign_tiles(files, pattern).dropna(subset=["tile"])
    rows = []
    for tile, group in assigned.groupby("tile", sort=True):
        rows.append({"tile": tile, **derived(group.to_dict("records"))})
    return pd.DataFrame(
        rows, columns=["tile", "crs", "tile_box", "min_meters_per_pixel", "max_meters_per_pixel"]
    ).set_index("tile")


def derived(files: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The tileGeometry box, CRS and meters per pixel of one tile's files (header rows)."""
    crs = str(files[0]["crs"])
    box = [
        min(float(f["xmin"]) for f in files),
        min(float(f["ymin"]) for f in files),
        max(float(f["xmax"]) for f in files),
        max(float(f["ymax"]) for f in files),
    ]
    table = DEFAULT_RULES  # COG_RULES 4, from byocframe.file_rules
    unit = table.meters_per_degree if crs == "EPSG:4326" else 1.0
    finest = min(min(float(f["res_x"]), float(f["res_y"])) for f in files) * unit
    lowest = []
    for f in files:
        sizes = [s for s in (f.get("image_sizes") or []) if min(s) >= table.min_overview_px] or [
            [f["width"], f["height"]]
        ]
        factor = float(f["width"]) / min(s[0] for s in sizes)
        lowest.append(float(f["res_x"]) * factor * unit)
    return {
        "crs": crs,
        "tile_box": box,
        "min_meters_per_pixel": finest,
        "max_meters_per_pixel": max(
            table.max_meters_floor, table.max_meters_factor * float(np.median(lowest))
        ),
    }
