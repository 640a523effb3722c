"""Tile patterns: infer one from a bucket's layout, and refuse one that matches too little.

A tile pattern (see `byocframe.read_bucket`) is a regular expression over the object
keys with a ``(BAND)`` placeholder. A typo in it leaves every file unmatched, which the
checks would report as one warning per file and pass; `check_coverage` makes that an
error. Where the layout is plain (one folder per tile, one file per band named by the
band), `infer_pattern` writes the pattern.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from byocframe.exceptions import ValidationError

__all__ = ["MAX_UNMATCHED", "check_coverage", "infer_pattern"]

#: The largest fraction of a bucket's GeoTIFFs a pattern may leave unmatched.
MAX_UNMATCHED = 0.5

_TIFF = re.compile(r"\.tiff?$", re.IGNORECASE)
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_EXAMPLE = r"tiles/(?P<sensing_time>\d{4}-\d\d-\d\d)/(BAND)\.tif"


def infer_pattern(keys: Iterable[str]) -> str:
    r"""The tile pattern of a plain layout: one folder per tile, one file per band.

    Each GeoTIFF's folder is its tile and its name (without the extension) its band. A
    folder level that is a date in every key becomes the ``sensing_time`` group.

    Parameters
    ----------
    keys : iterable of str
        The object keys (or paths relative to the folder); files other than GeoTIFFs
        are ignored.

    Returns
    -------
    str
        A pattern for `byocframe.check` and `byocframe.read_bucket`.

    Raises
    ------
    ValidationError
        When the layout is not plain (the message says how to write a pattern).

    Examples
    --------
    >>> keys = ["tiles/2024-06-01/B01.tif", "tiles/2024-06-01/B02.tif",
    ...         "tiles/2024-06-02/B01.tif", "tiles/2024-06-02/B02.tif", "README.md"]
    >>> print(infer_pattern(keys))
    tiles/(?P<sensing_time>\d{4}-\d\d-\d\d)/(BAND)\.tif
    """
    tiffs = sorted(str(k) for k in keys if _TIFF.search(str(k)))
    if not tiffs:
        raise ValidationError(_cannot("it holds no GeoTIFF (.tif/.tiff)"))
    folders: dict[str, set[str]] = {}
    for key in tiffs:
        folder, _, name = key.rpartition("/")
        folders.setdefault(folder, set()).add(_TIFF.sub("", name))
    bands = Counter(band for names in folders.values() for band in names)
    rare = [band for band, count in bands.items() if count * 2 < len(folders)]
    if rare:
        raise ValidationError(
            _cannot(
                f"file names differ between folders (e.g. {rare[0]!r} is in only "
                f"{bands[rare[0]]} of {len(folders)}), so they are not band names"
            )
        )
    extensions = {_TIFF.search(key)[0] for key in tiffs}  # type: ignore[index]
    extension = _escape(extensions.pop()) if len(extensions) == 1 else r"\.(?i:tiff?)"
    return _folders_pattern(sorted(folders)) + "(BAND)" + extension


def _folders_pattern(folders: Sequence[str]) -> str:
    """The folders part: fixed names kept, dates as ``sensing_time``, the rest ``[^/]+``."""
    if folders == [""]:
        return ""
    split = [folder.split("/") if folder else [] for folder in folders]
    if len({len(parts) for parts in split}) != 1:
        return "(?:.+/)?" if any(not parts for parts in split) else ".+/"
    out: list[str] = []
    dated = False
    for level in zip(*split, strict=True):
        if not dated and all(_DATE.fullmatch(part) for part in level):
            out.append(r"(?P<sensing_time>\d{4}-\d\d-\d\d)")
            dated = True
        elif len(set(level)) == 1:
            out.append(_escape(level[0]))
        else:
            out.append("[^/]+")
    return "/".join(out) + "/"


def _escape(text: str) -> str:
    """``text`` as a regular expression, escaping only what must be (not ``-`` or ``_``)."""
    return re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", text)


def _cannot(reason: str) -> str:
    return (
        f"cannot infer a tile pattern: {reason}; give one, a regular expression over the "
        f"keys with (BAND) where the band's name is, e.g. --pattern '{_EXAMPLE}'"
    )


def check_coverage(
    keys: Sequence[str],
    matched: Sequence[bool],
    pattern: str,
    *,
    max_unmatched: float = MAX_UNMATCHED,
) -> None:
    r"""Refuse a pattern that matches no GeoTIFF, or leaves too many unmatched.

    Parameters
    ----------
    keys : sequence of str
        Every key listed.
    matched : sequence of bool
        Whether the pattern matched each key.
    pattern : str
        The pattern, for the message.
    max_unmatched : float
        The largest fraction of the GeoTIFFs that may stay unmatched (`MAX_UNMATCHED`).

    Raises
    ------
    ValidationError
        One line: how many matched, an unmatched key, and a pattern that fits when one
        can be inferred.

    Examples
    --------
    >>> keys = ["t1/B01.tif", "t1/B02.tif", "t2/B01.tif"]
    >>> check_coverage(keys, [True, True, True], r"(?P<tile>t\d)/(BAND)\.tif")
    >>> check_coverage(keys, [False, False, False], r"(?P<tile>T\d)/(BAND)\.tif")
    Traceback (most recent call last):
    ...
    byocframe.exceptions.ValidationError: pattern '(?P<tile>T\d)/(BAND)\.tif' matches 0 of 3 GeoTIFFs (e.g. not 't1/B01.tif'); a pattern must match the whole key; this layout fits --pattern '[^/]+/(BAND)\.tif'
    """  # noqa: E501
    tiffs = [(k, m) for k, m in zip(keys, matched, strict=True) if _TIFF.search(str(k))]
    if not tiffs:
        return
    missed = [k for k, m in tiffs if not m]
    share = len(missed) / len(tiffs)
    if not missed or (share <= max_unmatched and len(missed) < len(tiffs)):
        return
    message = (
        f"pattern '{pattern}' matches {len(tiffs) - len(missed)} of {len(tiffs)} GeoTIFFs "
        f"(e.g. not {missed[0]!r}); a pattern must match the whole key"
    )
    try:
        message += f"; this layout fits --pattern '{infer_pattern(keys)}'"
    except ValidationError:
        message += f", e.g. --pattern '{_EXAMPLE}'"
    if len(missed) < len(tiffs):
        message += (
            f"; or, if those files are not tiles, raise max_unmatched={max_unmatched:g} "
            "(--max-unmatched)"
        )
    raise ValidationError(message)
