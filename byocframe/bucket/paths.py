"""Tile paths and the keys of their files: what the service reads for each band.

A tile's ``path`` with ``(BAND)`` is a file-name template: each band's ``source``
replaces ``(BAND)`` (BYOC_API 7.2). A path without ``(BAND)`` is a folder, and a
``(BAND)`` path without an extension may name a file with any TIFF extension: the
service tries them.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable

__all__ = ["SameFiles", "band_key", "key_spellings", "path_stem"]

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


def _split(path: str) -> tuple[str, str]:
    """A path's `path_stem` and its TIFF extension as spelled ("" when it reads any)."""
    text = str(path)
    if "(BAND)" not in text:  # a folder: the service tries every extension
        return text.rstrip("/") + "/(BAND)", ""
    found = _TIFF.search(text)
    return (text[: found.start()], found.group()) if found else (text, "")


class SameFiles:
    """Tile paths, asked whether a path would read a file one of them reads.

    A path that spells its extension reads only that spelling (S3 keys are
    case-sensitive); a folder path, or a ``(BAND)`` path without an extension, reads any.

    Examples
    --------
    >>> held = SameFiles(["t/01/(BAND).tif", "t/02"])
    >>> "t/01/(BAND).tif" in held, "t/01/(BAND)" in held, "t/01/(BAND).tiff" in held
    (True, True, False)
    >>> "t/02/(BAND).TIF" in held  # the folder reads any spelling
    True
    """

    def __init__(self, paths: Iterable[str] = ()) -> None:
        self._spelled: dict[str, set[str]] = {}
        for path in paths:
            self.add(path)

    def add(self, path: str) -> None:
        """Hold ``path`` too."""
        stem, extension = _split(path)
        self._spelled.setdefault(stem, set()).add(extension)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        stem, extension = _split(path)
        held = self._spelled.get(stem, set())
        return bool(held) and (not extension or "" in held or extension in held)
