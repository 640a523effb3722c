"""Exact 64-bit digests of the values a frame's ``loaded`` tokens remember.

A digest decides that a row is *unchanged*, so it must not collide on the edits people
make: sign flips, swapped vertices, parts in another order, one vertex moved by a
nanometre. Every digest here is XXH3-64 (`xxhash`), a well-known non-cryptographic hash
whose output is frozen by its specification, over bytes whose layout this module fixes
(UTF-8 texts; little-endian IEEE 754 coordinates and the geometry's structure; ISO WKB
for anything else). Nothing depends on the pandas or shapely version, so the tokens in
users' files keep their meaning. ``docs/design/edits.md`` records why XXH3 and not
blake2b (measured: three times the cost on a 20,000-tile frame).

Examples
--------
>>> import shapely
>>> a, b = geometry_digest([shapely.box(0, 0, 1, 1), shapely.box(0, 0, 1, 1)])
>>> bool(a == b), int(geometry_digest([None])[0])
(True, 0)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import shapely
import xxhash

__all__ = ["blob_digest", "geometry_digest", "ids_digest", "service_digest", "text_digest"]

_POLYGON, _MULTIPOLYGON = 3, 6
#: Seeds keep the two byte layouts of `geometry_digest` apart.
_SIMPLE_SEED = 0x5349_4D50_4C45  # one ring: its kind and point count are the seed
_WKB_SEED = 0x574B_42


def text_digest(values: Sequence[object] | np.ndarray | pd.Series) -> np.ndarray:
    """XXH3-64 digests of texts as UTF-8 (missing values get 0, others never 0).

    Values that are not texts are digested as ``str`` writes them (bytes as their text,
    as pandas writes them to a file).

    Examples
    --------
    >>> a, b, c = text_digest(["x", "x", None])
    >>> bool(a == b), int(c)
    (True, 0)
    """
    texts = np.asarray(values, dtype=object)
    missing = np.asarray(pd.isna(texts), dtype=bool)
    digest = xxhash.xxh3_64_intdigest
    out = np.fromiter(
        (
            0 if gone else digest(_text(value).encode("utf-8", "surrogatepass"))
            for value, gone in zip(texts.tolist(), missing.tolist(), strict=True)
        ),
        dtype=np.uint64,
        count=len(texts),
    )
    out[~missing] |= np.uint64(1)
    return out


def blob_digest(values: Sequence[object] | np.ndarray) -> np.ndarray:
    """XXH3-64 digests of byte strings, exact (missing values get 0, others never 0).

    Examples
    --------
    >>> a, b, c = blob_digest([b"a", b"b", None])
    >>> bool(a != b), int(c)
    (True, 0)
    """
    blobs = np.asarray(values, dtype=object)
    digest = xxhash.xxh3_64_intdigest
    return np.fromiter(
        (0 if blob is None else digest(blob) | 1 for blob in blobs.tolist()),
        dtype=np.uint64,
        count=len(blobs),
    )


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def service_digest(url: str | None) -> int:
    """A 64-bit digest of a base URL (case and trailing slashes ignored; "" gives 0).

    Examples
    --------
    >>> service_digest("https://Example.com/") == service_digest("https://example.com")
    True
    """
    text = (url or "").strip().rstrip("/").lower()
    if not text:
        return 0
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") | 1


def ids_digest(collection: str, ids: Sequence[str]) -> str:
    """A hex XXH3-128 digest of a collection id and a list of tile ids, in order.

    It seals the list of loaded ids kept in a frame's attrs: a list edited by hand or
    copied from another frame no longer matches it, so no deletion is planned from it.

    Examples
    --------
    >>> ids_digest("c1", ["a", "b"]) == ids_digest("c1", ["a", "b"])
    True
    >>> ids_digest("c1", ["a", "b"]) == ids_digest("c1", ["a", "b", "c"])
    False
    """
    hasher = xxhash.xxh3_128(collection.encode("utf-8", "surrogatepass") + b"\0")
    for tid in ids:
        hasher.update(str(tid).encode("utf-8", "surrogatepass") + b"\n")
    return hasher.hexdigest()


def geometry_digest(geoms: Sequence[object] | np.ndarray) -> np.ndarray:
    """XXH3-64 digests of geometries, exact to the last bit of every coordinate.

    Two geometries get the same digest when they have the same kind, parts, rings and
    coordinates in the same order (``-0.0`` and ``0.0`` differ, as their bits do);
    missing and empty geometries get 0. A polygon of one ring (as a Polygon or a
    one-part MultiPolygon: the usual tile cover) is digested from its coordinate bytes
    and its kind and point count, without building its WKB; any other geometry from its
    little-endian ISO WKB.

    Examples
    --------
    >>> square = shapely.box(0, 0, 1, 1)
    >>> flipped = shapely.transform(square, lambda xy: xy * [1, -1])
    >>> a, b = geometry_digest([square, shapely.transform(flipped, lambda xy: xy * [1, -1])])
    >>> bool(a == b), bool(geometry_digest([flipped])[0] == a)
    (True, False)
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) > 1_000:
        # a footprint on many dates is often one shared object: digest each object once
        identity = np.fromiter(map(id, geoms), dtype=np.int64, count=len(geoms))
        _, first, inverse = np.unique(identity, return_index=True, return_inverse=True)
        if len(first) < 0.75 * len(geoms):
            return geometry_digest(geoms[first])[inverse]
    out = np.zeros(len(geoms), dtype=np.uint64)
    counts = shapely.get_num_coordinates(geoms)  # 0 for missing and empty geometries
    present = np.flatnonzero(counts > 0)
    if not len(present):
        return out
    shown, counts = geoms[present], counts[present]
    kind = shapely.get_type_id(shown)
    coords = np.ascontiguousarray(shapely.get_coordinates(shown), dtype="<f8")
    starts = np.zeros(len(shown), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    simple = _one_ring(shown, kind, coords, starts, counts)
    if simple.any():
        out[present[simple]] = _ring_digests(coords, starts[simple], counts[simple], kind[simple])
    if not simple.all():
        wkb = shapely.to_wkb(shown[~simple], byte_order=1, flavor="iso", include_srid=False)
        digest = xxhash.xxh3_64_intdigest
        out[present[~simple]] = np.fromiter(
            (digest(blob, seed=_WKB_SEED) for blob in wkb.tolist()),
            dtype=np.uint64,
            count=len(wkb),
        )
    out[present] |= np.uint64(1)
    return out


def _one_ring(
    geoms: np.ndarray, kind: np.ndarray, coords: np.ndarray, starts: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Which geometries are 2-D polygons of one ring (Polygon or one-part MultiPolygon).

    Without building the parts: a polygon's shell ends at the first repeat of its first
    point, so a polygon whose first point comes back only as its last one has no hole.
    """
    one_part = (kind == _POLYGON) | (
        (kind == _MULTIPOLYGON) & (shapely.get_num_geometries(geoms) == 1)
    )
    first = coords[starts]
    # x alone first (one pass, no gather of pairs); y only where x repeats
    again = coords[:, 0] == np.repeat(first[:, 0], counts)
    maybe = np.flatnonzero(again)
    owner = np.searchsorted(starts, maybe, side="right") - 1
    again[maybe] = coords[maybe, 1] == first[owner, 1]
    repeats = np.add.reduceat(again.view(np.uint8), starts, dtype=np.int64)
    closes = again[starts + counts - 1]
    return one_part & (repeats == 2) & closes & ~shapely.has_z(geoms)


def _ring_digests(
    coords: np.ndarray, starts: np.ndarray, counts: np.ndarray, kind: np.ndarray
) -> np.ndarray:
    """Digests of one-ring polygons: their coordinate bytes, seeded by kind and count."""
    data = memoryview(coords.tobytes())
    begin = starts * 16
    end = begin + counts * 16
    seeds = (
        np.uint64(_SIMPLE_SEED)
        ^ (kind.astype(np.uint64) << np.uint64(56))
        ^ counts.astype(np.uint64)
    )
    digest = xxhash.xxh3_64_intdigest
    return np.fromiter(
        (
            digest(data[a:b], seed=seed)
            for a, b, seed in zip(begin.tolist(), end.tolist(), seeds.tolist(), strict=True)
        ),
        dtype=np.uint64,
        count=len(counts),
    )
