"""CRS names as the service and its clients spell them; the geometry modules' error.

Every CRS in byocframe is ``"EPSG:<code>"`` in lon/lat (x, y) order; `parse_crs` reads
every spelling pyproj reads (the service's URN, OGC URLs, ``OGC:CRS84``, WKT, PROJ strings,
a ``pyproj.CRS``) and `crs_urn` writes the service's.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from pyproj import CRS
from pyproj.exceptions import CRSError

from byocframe.typing import CrsLike

__all__ = ["WGS84", "GeometryProblem", "crs_urn", "parse_crs"]

#: byocframe's lon/lat CRS (CRS84 order).
WGS84 = "EPSG:4326"

_URN_EPSG = re.compile(r"^urn:ogc:def:crs:EPSG:[\d.]*:(\d+)$", re.IGNORECASE)
_HTTP_EPSG = re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/[\d.]+/(\d+)$", re.I)
_PLAIN_EPSG = re.compile(r"^EPSG:{1,2}(\d+)$", re.IGNORECASE)
_CRS84 = re.compile(
    r"^(urn:ogc:def:crs:OGC:[\d.]*:CRS84|OGC:CRS84|CRS84"
    r"|https?://www\.opengis\.net/def/crs/OGC/[\d.]+/CRS84)$",
    re.IGNORECASE,
)
_LONLAT = CRS.from_epsg(4326)


class GeometryProblem(ValueError):
    """A geometry that cannot be read; the message names the problem, not the tile."""


def parse_crs(name: CrsLike | None) -> str:
    """Normalise a CRS, in any spelling pyproj reads, to ``"EPSG:<code>"``.

    Parameters
    ----------
    name : str, int, pyproj.CRS or None
        ``urn:ogc:def:crs:EPSG::32633``, ``EPSG:32633``, ``32633``,
        ``http://www.opengis.net/def/crs/EPSG/0/32633``, ``urn:ogc:def:crs:OGC::CRS84``,
        ``OGC:CRS84``, ``http://www.opengis.net/def/crs/OGC/1.3/CRS84``, WKT, a PROJ
        string, PROJJSON, ``ESRI:102100``...; None means WGS84 (lon/lat order).

    Returns
    -------
    str
        ``"EPSG:<code>"``; CRS84 and every other lon/lat WGS84 become ``"EPSG:4326"``
        (byocframe always uses lon/lat order).

    Raises
    ------
    GeometryProblem
        For a spelling pyproj cannot read, an EPSG code it does not know, or a CRS
        without an EPSG code (byocframe and the service need one).

    Examples
    --------
    >>> parse_crs("urn:ogc:def:crs:EPSG::32628")
    'EPSG:32628'
    >>> parse_crs("http://www.opengis.net/def/crs/OGC/1.3/CRS84")
    'EPSG:4326'
    >>> parse_crs("+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs")
    'EPSG:32633'
    """
    if name is None:
        return WGS84
    if isinstance(name, str):
        return _parse_text(name.strip())
    if isinstance(name, bool) or not isinstance(name, int | CRS | dict | tuple):
        raise GeometryProblem(
            f"unrecognised CRS of type {type(name).__name__}; give a string such as EPSG:<code>"
        )
    if isinstance(name, int) and not -(10**9) < name < 10**9:
        # EPSG codes have at most 6 digits; str() of a 5,000-digit one raises
        raise GeometryProblem("unknown EPSG code (more than 9 digits) in a CRS")
    return _parse_pyproj(name, str(name)[:80])


@functools.lru_cache(maxsize=512)
def _parse_text(text: str) -> str:
    if _CRS84.match(text):
        return WGS84
    # the service's own spellings first: no pyproj database lookup for them
    match = _URN_EPSG.match(text) or _PLAIN_EPSG.match(text) or _HTTP_EPSG.match(text)
    if not match:
        return _parse_pyproj(text, text[:80])
    if len(match.group(1)) > 9:  # EPSG codes have at most 6 digits; int() of 5,000 raises
        raise GeometryProblem(f"unknown EPSG code {match.group(1)[:12]}... in a CRS")
    code = int(match.group(1))
    try:
        CRS.from_epsg(code)
    except CRSError as err:
        raise GeometryProblem(f"unknown EPSG code {code} in CRS {text[:80]!r}") from err
    return f"EPSG:{code}"


def _parse_pyproj(value: Any, shown: str) -> str:
    try:
        crs = CRS.from_user_input(value)
    except CRSError as err:
        raise GeometryProblem(
            f"unrecognised CRS {shown!r}; expected a spelling pyproj reads, "
            "such as urn:ogc:def:crs:EPSG::<code> or EPSG:<code>"
        ) from err
    if crs.equals(_LONLAT, ignore_axis_order=True):
        return WGS84
    code = crs.to_epsg()
    if code is None:
        raise GeometryProblem(f"CRS {shown!r} has no EPSG code; give one as EPSG:<code>")
    return f"EPSG:{code}"


def crs_urn(crs: str) -> str:
    """Return the ``urn:ogc:def:crs:EPSG::<code>`` spelling the service writes.

    Examples
    --------
    >>> crs_urn("EPSG:32628")
    'urn:ogc:def:crs:EPSG::32628'
    """
    return "urn:ogc:def:crs:EPSG::" + crs.split(":")[-1]
