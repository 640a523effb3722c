"""Tile paths and the keys of their files: what the service reads for each band.

A tile's ``path`` with ``(BAND)`` is a file-name template: each band's ``source``
replaces ``(BAND)`` (BYOC_API 7.2). A path without ``(BAND)`` is a folder, and a
``(BAND)`` path without an extension may name a file with any TIFF extension: the
service tries them.
"""

from __future__ import annotations

import re
from collections.abc import Container

__all__ = ["band_key", "key_spellings", "path_stem"]

_TIFF = re.compile(r"\.tiff?$", re.IGNORECASE)
#: How a file of a folder path, or of a ``(BAND)`` path without an extension, may end.
_SPELLINGS = (".tif", ".tiff", ".TIF", ".TIFF")


def path_stem(path: str) -> str:
    """One spelling for every path naming the same files: the ``(BAND)`` template.

    A folder path is its ``(BAND)`` template (``folder/(BAND)``), and a TIFF extension
    is dropped: the service tries them all on a path without one.

    Examples
    --------
    >>> path_stem("t/01/(BAND).TIFF"), path_stem("t/01/(BAND)"), path_stem("t/01/")
    ('t/01/(BAND)', 't/01/(BAND)', 't/01/(BAND)')
    >>> path_stem("t/x_(BAND)_2019.tif")
    't/x_(BAND)_2019'
    """
    text = str(path)
    if "(BAND)" not in text:
        text = text.rstrip("/") + "/(BAND)"
    return _TIFF.sub("", text)


def key_spellings(key: str) -> tuple[str, ...]:
    """Every key a band's file may have: itself, and with each TIFF extension if it has none.

    Examples
    --------
    >>> key_spellings("t/01/B04.tif")
    ('t/01/B04.tif',)
    >>> key_spellings("t/01/B04")
    ('t/01/B04', 't/01/B04.tif', 't/01/B04.tiff', 't/01/B04.TIF', 't/01/B04.TIFF')
    """
    if _TIFF.search(key):
        return (key,)
    return (key, *(key + e for e in _SPELLINGS))


def band_key(path: str, source: str, listed: Container[str]) -> str:
    """The key of a band's file: a spelling ``listed`` holds when there is one, else the plain one.

    Examples
    --------
    >>> band_key("t/01/(BAND).tif", "B04", set())
    't/01/B04.tif'
    >>> band_key("t/01/(BAND)", "B04", {"t/01/B04.TIF"})  # no extension: any TIFF one
    't/01/B04.TIF'
    >>> band_key("t/01", "B04", {"t/01/B04.tiff"})  # a folder
    't/01/B04.tiff'
    """
    if "(BAND)" in path:
        base = path.replace("(BAND)", source)
        if _TIFF.search(base):
            return base
        spellings: tuple[str, ...] = ("", *_SPELLINGS)
    else:
        base = f"{path.rstrip('/')}/{source}"
        spellings = (*_SPELLINGS, "")
    return next((base + e for e in spellings if base + e in listed), base)
