"""Coverage and changes of tile listings too large for one frame in memory.

`byocframe.scale.cells` cuts footprints along equal-area cells one partition at a
time (pandas only); `byocframe.scale.partitioned` runs it, and `changes`, over a
partitioned GeoParquet dataset with dask-geopandas (the optional ``dask`` extra).
docs/design/scale.md says how and why.
"""

from __future__ import annotations

from byocframe.scale.cells import cell_depths, cell_pieces, combine_coverage

__all__ = ["cell_depths", "cell_pieces", "combine_coverage"]
