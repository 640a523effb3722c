"""Geometry digests: the same geometry gives the same digest however it is held."""

from __future__ import annotations

import numpy as np
import shapely

from byocframe.frame.digests import geometry_digest


def test_shared_objects_digest_like_copies_in_their_rows():
    rng = np.random.default_rng(3)
    distinct = shapely.polygons(rng.random((300, 12, 2)))
    rows = rng.integers(0, 300, 5_000)
    shared = distinct[rows]  # many rows hold the same object, as a mosaic's dates do
    shared[::7] = None
    copies = shapely.from_wkb(shapely.to_wkb(shared))  # one object per row
    assert (geometry_digest(shared) == geometry_digest(copies)).all()
    one_by_one = np.array([geometry_digest([g])[0] for g in shared[:400]])
    assert (geometry_digest(shared)[:400] == one_by_one).all()
    assert (
        len(np.unique(geometry_digest(shared)))
        == len(np.unique(rows[np.arange(5_000) % 7 != 0])) + 1
    )
