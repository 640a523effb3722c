"""CRS names as the service and its clients spell them; the geometry modules' error.

Every CRS in byocframe is ``"EPSG:<code>"`` in lon/lat (x, y) order; `parse_crs` reads
the URN, URL and plain spellings and `crs_urn` writes the service's.
"""

from __future__ import annotations

import functools
import re

from pyproj import CRS
from pyproj.exceptions import CRSError

__all__ = ["WGS84", "GeometryProblem", "crs_urn", "parse_crs"]

#: byocframe's lon/lat CRS (CRS84 order).
WGS84 = "EPSG:4326"

_URN_EPSG = re.compile(r"^urn:ogc:def:crs:EPSG:[\d.]*:(\d+)$", re.IGNORECASE)
_HTTP_EPSG = re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/[\d.]+/(\d+)$", re.I)
_PLAIN_EPSG = re.compile(r"^EPSG:{1,2}(\d+)$", re.IGNORECASE)
_CRS84 = re.compile(r"^(urn:ogc:def:crs:OGC:[\d.]*:CRS84|OGC:CRS84|CRS84)$", re.IGNORECASE)


class GeometryProblem(ValueError):
    """A geometry that cannot be read; the message names the problem, not the tile."""


@functools.lru_cache(maxsize=512)
def parse_crs(name: str | None) -> str:
    """Normalise a CRS spelling used by the service or its clients to ``"EPSG:<code>"``.

    Parameters
    ----------
    name : str or None
        ``urn:ogc:def:crs:EPSG::32633``, ``urn:ogc:def:crs:OGC::CRS84``, ``EPSG:32633``,
        ``http://www.opengis.net/def/crs/EPSG/0/32633``; None means WGS84 (lon/lat order).

    Returns
    -------
    str
        ``"EPSG:<code>"``; CRS84 becomes ``"EPSG:4326"`` (byocframe always uses lon/lat order).

    Raises
    ------
    GeometryProblem
        For an unknown spelling or an EPSG code that pyproj does not know.

    Examples
    --------
    >>> parse_crs("urn:ogc:def:crs:EPSG::32628")
    'EPSG:32628'
    >>> parse_crs("urn:ogc:def:crs:OGC::CRS84")
    'EPSG:4326'
    """
    if name is None:
        return WGS84
    text = str(name).strip()
    if _CRS84.match(text):
        return WGS84
    match = _URN_EPSG.match(text) or _PLAIN_EPSG.match(text) or _HTTP_EPSG.match(text)
    if not match:
        raise GeometryProblem(
            f"unrecognised CRS {text[:80]!r}; expected urn:ogc:def:crs:EPSG::<code>"
        )
    if len(match.group(1)) > 9:  # EPSG codes have at most 6 digits; int() of 5,000 raises
        raise GeometryProblem(f"unknown EPSG code {match.group(1)[:12]}... in a CRS")
    code = int(match.group(1))
    try:
        CRS.from_epsg(code)
    except CRSError as err:
        raise GeometryProblem(f"unknown EPSG code {code} in CRS {text[:80]!r}") from err
    return f"EPSG:{code}"


def crs_urn(crs: str) -> str:
    """Return the ``urn:ogc:def:crs:EPSG::<code>`` spelling the service writes.

    Examples
    --------
    >>> crs_urn("EPSG:32628")
    'urn:ogc:def:crs:EPSG::32628'
    """
    return "urn:ogc:def:crs:EPSG::" + crs.split(":")[-1]
