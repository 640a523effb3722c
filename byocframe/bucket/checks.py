r"""Pre-flight checks of BYOC files: the rules of COG_RULES.md as a table, per file and tile.

The rule table (`RULES`) is data: each rule has an id, a scope, a severity, the short
message the service would give and the fix a user can run. The limits (supported CRSs,
block sizes, header size, compressions, sample types) live in a `RuleSet`, so a
deployment that ingests more CRSs is one ``RuleSet.replace(...)`` away. Requirements,
limits and service messages come from `byocframe.file_rules`, the data-only table the
local service's ingestion (`byocframe.emulator.judge`) judges files by with its own code.

Examples
--------
>>> from byocframe.bucket.files import files_from_headers
>>> files = files_from_headers([{"key": "t/B01.tif", "crs": "EPSG:2056", "xmin": 0.0,
...     "ymin": 0.0, "xmax": 5120.0, "ymax": 5120.0, "width": 512, "height": 512,
...     "res_x": 10.0, "res_y": 10.0, "bands": 1, "dtype": "uint16", "block_width": 512,
...     "block_height": 512, "image_sizes": [[512, 512]], "image_blocks": [[512, 512]],
...     "overviews": 0, "compression": "JPEG", "photometric": 1, "header_size": 400,
...     "interleave": "BAND"}])
>>> check(files, pattern=r"t/(BAND)\.tif")[["rule", "severity"]].values.tolist()
[['compression', 'error'], ['crs', 'error']]
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer

from byocframe.bucket.files import assign_tiles, open_bucket, read_bucket, s3_keyword
from byocframe.bucket.patterns import MAX_UNMATCHED, check_coverage, infer_pattern
from byocframe.file_rules import REQUIREMENTS, SERVICE_MESSAGES, FileRules
from byocframe.typing import S3Like

__all__ = [
    "DEFAULT_RULES",
    "FINDING_COLUMNS",
    "RULES",
    "Findings",
    "Rule",
    "RuleSet",
    "band_dtypes",
    "check",
    "check_file",
    "check_tile_files",
    "derived",
    "exact_number",
    "predict",
    "rule_table",
]

FINDING_COLUMNS = ("file", "tile", "rule", "severity", "message", "fix", "service_message")
_COG = (
    "gdal_translate -of COG -co COMPRESS=DEFLATE -co BLOCKSIZE=1024 -co RESAMPLING=AVERAGE "
    "-co OVERVIEWS=IGNORE_EXISTING -co PREDICTOR=YES {file} {stem}_cog.tif"
)


@dataclass(frozen=True)
class Rule:
    """One row of the rule table: what the service requires and how to fix a file."""

    id: str
    scope: str  # "file" or "tile"
    severity: str  # "error" (ingestion fails) or "warning"
    requirement: str
    service: str  # the service's kind of message ({...} filled in per finding)
    fix: str

    def fix_for(self, **values: Any) -> str:
        """The fix with the values given filled in (``<name>`` for the others)."""
        return self.fix.format_map(_Blank(values))


#: Each rule's severity and the fix a user can run (the client's advice); what a rule
#: requires and the service's message come from the shared table, `byocframe.file_rules`.
_ADVICE: tuple[tuple[str, str, str, str], ...] = (
    ("header", "file", "error", "re-create the file as a COG: " + _COG),
    ("striped", "file", "error", "write it tiled, as a COG: " + _COG),
    ("block-size", "file", "error", "rewrite with one block size for all levels: " + _COG),
    ("overviews", "file", "error", "add overviews: " + _COG),
    ("header-size", "file", "error", "write the IFDs first with fewer, larger blocks: " + _COG),
    ("compression", "file", "error", "recompress losslessly: " + _COG),
    ("compression-photometric", "file", "error", "recompress with DEFLATE or ZSTD: " + _COG),
    ("sample-type", "file", "error",
     "convert the type, e.g. gdal_translate -ot Float32 -of COG {file} {stem}_cog.tif"),
    ("interleave-bands", "file", "error",
     "write band-interleaved: gdal_translate -of COG -co INTERLEAVE=BAND {file} {stem}_cog.tif"),
    ("crs", "file", "error", "reproject: gdalwarp -t_srs {suggest} -of COG "
     "-co COMPRESS=DEFLATE -co BLOCKSIZE=1024 {file} {stem}_cog.tif"),
    ("rotated", "file", "error", "resample north-up: gdalwarp -of COG {file} {stem}_cog.tif"),
    ("pole", "file", "error", "split the file so no part contains the pole "
     "(gdal_translate -projwin ...), or reproject the parts to a polar CRS"),
    ("nodata-nan", "file", "warning", "unset it: gdal_edit.py -unsetnodata {file}"),
    ("unmatched", "file", "warning",
     "check the pattern, or move the file out of the collection's prefix"),
    ("missing-band", "tile", "error", "upload {key}, or remove the band from the collection"),
    ("extension", "tile", "error", "rename the file to end in {want}"),
    ("band-crs", "tile", "error",
     "reproject every band to one CRS: gdalwarp -t_srs {crs} -of COG {file} {stem}_cog.tif"),
    ("band-bounds", "tile", "error",
     "re-grid to the common box: gdalwarp -te {box} -of COG {file} {stem}_cog.tif"),
    ("bit-depth", "tile", "error",
     "convert: gdal_translate -ot {gdal_type} -of COG {file} {stem}_cog.tif"),
)  # fmt: skip

#: The rules of COG_RULES.md, in the order ingestion meets them.
RULES: tuple[Rule, ...] = tuple(
    Rule(rid, scope, severity, REQUIREMENTS[rid], SERVICE_MESSAGES.get(rid, ""), fix)
    for rid, scope, severity, fix in _ADVICE
)
_BY_ID = {rule.id: rule for rule in RULES}


@dataclass(frozen=True)
class RuleSet(FileRules):
    """The limits the rules apply (`byocframe.file_rules.FileRules`), with severities.

    Examples
    --------
    >>> extended = DEFAULT_RULES.replace(supported_crs=DEFAULT_RULES.supported_crs | {"EPSG:6933"})
    >>> "EPSG:6933" in extended.supported_crs, "EPSG:6933" in DEFAULT_RULES.supported_crs
    (True, False)
    """

    severities: Mapping[str, str] = field(default_factory=dict)  # rule id -> severity override

    def severity(self, rule: str) -> str:
        """The severity of a rule here (the table's, unless overridden)."""
        return self.severities.get(rule, _BY_ID[rule].severity)


DEFAULT_RULES = RuleSet()


def rule_table() -> pd.DataFrame:
    """The rule table as a frame: id, scope, severity, requirement, service message, fix."""
    return pd.DataFrame([dataclasses.asdict(r) for r in RULES]).set_index("id")


class Findings:
    """Findings collected while checking (a table in the making); `frame` gives it."""

    def __init__(self, rules: RuleSet):
        self.rules = rules
        self.rows: list[dict[str, Any]] = []

    def add(self, rule: str, file: Any, tile: Any, message: str, **values: Any) -> None:
        """Record a finding of ``rule``; ``values`` fill its service message and fix."""
        spec = _BY_ID[rule]
        name = str(file) if file is not None and not _na(file) else ""
        values.setdefault("file", name.rsplit("/", 1)[-1] or "<file>")
        values.setdefault("stem", values["file"].rsplit(".", 1)[0])
        self.rows.append(
            {
                "file": name or None,
                "tile": None if tile is None or _na(tile) else str(tile),
                "rule": rule,
                "severity": self.rules.severity(rule),
                "message": message,
                "fix": spec.fix_for(**values),
                "service_message": spec.service.format_map(_Blank(values)) or None,
            }
        )

    def frame(self) -> pd.DataFrame:
        """The findings so far, one row each (`FINDING_COLUMNS`)."""
        return pd.DataFrame(self.rows, columns=list(FINDING_COLUMNS))


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def _na(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def check_file(row: Mapping[str, Any], out: Findings, tile: Any = None) -> None:
    """Append the findings of one file (a files-frame row) to ``out``."""
    key, rules = row["key"], out.rules
    if not _na(row.get("error")) and row.get("error"):
        out.add("header", key, tile, f"{key}: cannot read the TIFF header ({row['error']})")
        return
    blocks = list(row.get("image_blocks") or [])
    sizes = list(row.get("image_sizes") or [])
    lo, hi = rules.min_block, rules.max_block
    striped = [i for i, (bw, _) in enumerate(blocks) if not bw]
    wrong = [
        i for i, (bw, bh) in enumerate(blocks) if bw and not (lo <= bw <= hi and lo <= bh <= hi)
    ]
    if striped:
        out.add(
            "striped",
            key,
            tile,
            f"{key}: {_images(striped)} striped, not tiled; the service reads COGs block by block",
            image=striped[0],
            min=lo,
            max=hi,
        )
    elif wrong:
        sizes_text = ", ".join(f"{blocks[i][0]}x{blocks[i][1]}" for i in wrong)
        out.add(
            "block-size",
            key,
            tile,
            f"{key}: {_images(wrong)} blocks of {sizes_text} px; "
            f"every image, overviews included, needs blocks of {lo}-{hi} px",
            image=wrong[0],
            min=lo,
            max=hi,
        )
    if blocks and sizes and blocks[0][0]:
        (w, h), (bw, bh) = sizes[0], blocks[0]
        if not row.get("overviews") and (w > bw or h > bh):
            out.add(
                "overviews",
                key,
                tile,
                f"{key}: {w}x{h} px without overviews; zoomed-out requests would read every block",
                width=w,
                height=h,
                block=bw,
            )
    size = row.get("header_size")
    if size is not None and not _na(size) and size > rules.max_header:
        out.add(
            "header-size",
            key,
            tile,
            f"{key}: header is {int(size):,} bytes, over {rules.max_header:,}",
            size=int(size),
            max=rules.max_header,
        )
    _check_encoding(row, out, tile)
    _check_georeference(row, out, tile)


def _images(indices: list[int]) -> str:
    names = ["the full-resolution image (0)" if i == 0 else f"overview {i}" for i in indices]
    return ", ".join(names) + (" has" if len(names) == 1 else " have")


def _check_encoding(row: Mapping[str, Any], out: Findings, tile: Any) -> None:
    key, rules = row["key"], out.rules
    compression = row.get("compression")
    photometric = row.get("photometric")
    if compression and not _na(compression):
        if compression not in rules.compressions:
            out.add(
                "compression",
                key,
                tile,
                f"{key}: {compression} compression is not "
                "supported (lossy or unknown); use DEFLATE or ZSTD",
                compression=compression,
            )
        elif (
            not _na(photometric)
            and photometric not in (1, 2)
            and compression not in rules.other_photometric
        ):
            out.add(
                "compression-photometric",
                key,
                tile,
                f"{key}: {compression} with "
                f"photometric {photometric}; only none, DEFLATE or ZSTD are read",
                compression=compression,
                photometric=photometric,
            )
    dtype = row.get("dtype")
    if dtype and not _na(dtype) and dtype not in rules.dtypes:
        out.add(
            "sample-type",
            key,
            tile,
            f"{key}: {dtype} samples are not supported; use 8/16/32-bit integers or float32",
            dtype=dtype,
        )
    bands = row.get("bands")
    chunky = row.get("interleave") == "PIXEL"
    if chunky and bands is not None and not _na(bands) and bands > rules.max_chunky_bands:
        out.add(
            "interleave-bands",
            key,
            tile,
            f"{key}: {bands} pixel-interleaved bands, over {rules.max_chunky_bands}",
            bands=bands,
            max=rules.max_chunky_bands,
        )
    nodata = row.get("nodata")
    if isinstance(nodata, str) and nodata.strip().lower() == "nan":
        out.add(
            "nodata-nan",
            key,
            tile,
            f"{key}: NaN is set as no-data; NaN is always no-data and the tag is ignored",
        )


def _check_georeference(row: Mapping[str, Any], out: Findings, tile: Any) -> None:
    key, rules = row["key"], out.rules
    crs = row.get("crs")
    if crs is None or _na(crs):
        note = row.get("crs_note") if not _na(row.get("crs_note")) else "no CRS"
        out.add(
            "crs",
            key,
            tile,
            f"{key}: {note}; the service needs an EPSG code",
            crs="(none)",
            suggest="EPSG:4326",
        )
    elif crs not in rules.supported_crs:
        suggest = _utm_for(row)
        out.add(
            "crs",
            key,
            tile,
            f"{key}: {crs} is not a CRS this deployment ingests "
            f"(UTM, EPSG:4326, 3857, 3035); reproject, e.g. to {suggest}",
            crs=crs,
            suggest=suggest,
        )
    if row.get("rotated") is True:
        out.add("rotated", key, tile, f"{key}: the georeferencing is rotated or sheared")
    if crs and not _na(crs) and _crosses_pole(row):
        out.add(
            "pole",
            key,
            tile,
            f"{key}: the file's extent contains a pole; the service cannot ingest it",
        )


@functools.lru_cache(maxsize=64)
def _pole_points(crs: str) -> tuple[tuple[float, float], ...]:
    forward = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    points = []
    for lat in (90.0, -90.0):
        x, y = forward.transform(0.0, lat)
        if np.isfinite(x) and np.isfinite(y):
            points.append((float(x), float(y)))
    return tuple(points)


def _box(row: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    box = tuple(row.get(k) for k in ("xmin", "ymin", "xmax", "ymax"))
    if any(v is None or _na(v) for v in box):
        return None
    return box  # type: ignore[return-value]


def _crosses_pole(row: Mapping[str, Any]) -> bool:
    box = _box(row)
    if box is None:
        return False
    if row["crs"] == "EPSG:4326":
        return box[1] < -90 or box[3] > 90
    try:
        poles = _pole_points(str(row["crs"]))
    except Exception:  # an unknown CRS is the crs rule's finding, not this one's
        return False
    return any(box[0] < x < box[2] and box[1] < y < box[3] for x, y in poles)


def _utm_for(row: Mapping[str, Any]) -> str:
    box = _box(row)
    try:
        to_lonlat = Transformer.from_crs(str(row["crs"]), "EPSG:4326", always_xy=True)
        lon, lat = to_lonlat.transform((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)  # type: ignore[index]
    except Exception:
        return "EPSG:4326"
    if not (np.isfinite(lon) and np.isfinite(lat)) or abs(lat) > 84:
        return "EPSG:4326"
    zone = int((lon + 180) // 6) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "float32": "Float32",
}
_SAMPLE = {"UINT": "uint", "INT": "int", "FLOAT": "float"}


def band_dtypes(bands: Mapping[str, Mapping[str, Any]] | None) -> dict[str, str]:
    """``{source: "uint16"}`` from a collection's ``additionalData.bands``."""
    out = {}
    for name, spec in (bands or {}).items():
        fmt, depth = spec.get("sampleFormat"), spec.get("bitDepth")
        if fmt and depth:
            out[str(spec.get("source") or name)] = f"{_SAMPLE.get(str(fmt).upper(), fmt)}{depth}"
    return out


def check_tile_files(
    tile: str,
    files: pd.DataFrame,
    out: Findings,
    *,
    sources: Iterable[str] = (),
    dtypes: Mapping[str, str] | None = None,
    extension: str | None = None,
    bucket: str = "",
) -> None:
    """Append the findings of one tile: its files (rows with ``band``) and their agreement.

    ``sources`` are the band file names every tile must have, ``dtypes`` the sample type
    of each (the collection's, or the most common in the bucket), ``extension`` the one
    the collection uses.
    """
    for row in files.to_dict("records"):
        check_file(row, out, tile)
    have = dict(zip(files["band"], files["key"], strict=True))
    ext = _extension(next(iter(have.values()), ""))
    for source in sources:
        if source not in have:
            key = tile.replace("(BAND)", source)
            if not _extension(key):
                key += extension or ext or ".tif"
            shown = f"s3://{bucket}/{key}" if bucket else key
            out.add(
                "missing-band",
                None,
                tile,
                f"tile {tile}: band {source} has no file ({key})",
                key=shown,
            )
    found = sorted({_extension(k) for k in have.values()})
    want = extension or (found[0] if found else ".tif")
    for key in have.values():
        if _extension(key) != want:
            out.add(
                "extension",
                key,
                tile,
                f"{key}: extension {_extension(key) or '(none)'} "
                f"differs from {want} used by the other files; the service needs one",
                found=sorted({*found, want}),
                want=want,
            )
    crs = files["crs"].dropna().unique()
    if len(crs) > 1:
        first = str(crs[0])
        for row in files[files["crs"] != first].to_dict("records"):
            out.add(
                "band-crs",
                row["key"],
                tile,
                f"{row['key']}: in {row['crs']}, the tile's other files are in {first}",
                found=sorted(map(str, crs)),
                crs=first,
            )
    else:
        _check_bounds(tile, files, out)
    for row in files.to_dict("records"):
        want_type = (dtypes or {}).get(str(row["band"]))
        if want_type and row.get("dtype") and not _na(row["dtype"]) and row["dtype"] != want_type:
            out.add(
                "bit-depth",
                row["key"],
                tile,
                f"{row['key']}: {row['dtype']} while band "
                f"{row['band']} is {want_type} in the other tiles (or the collection)",
                key=row["key"],
                dtype=row["dtype"].upper(),
                band=row["band"],
                want=want_type.upper(),
                gdal_type=_GDAL_TYPES.get(want_type, want_type),
            )


def _check_bounds(tile: str, files: pd.DataFrame, out: Findings) -> None:
    boxes = files[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=float)
    if len(boxes) < 2 or np.isnan(boxes).any():
        return
    inter = (boxes[:, 0].max(), boxes[:, 1].max(), boxes[:, 2].min(), boxes[:, 3].min())
    res = files[["res_x", "res_y"]].to_numpy(dtype=float)
    for pos, row in enumerate(files.to_dict("records")):
        off_x = max(abs(inter[0] - boxes[pos, 0]), abs(boxes[pos, 2] - inter[2]))
        off_y = max(abs(inter[1] - boxes[pos, 1]), abs(boxes[pos, 3] - inter[3]))
        if off_x > res[pos, 0] or off_y > res[pos, 1]:
            box = " ".join(exact_number(v) for v in inter)
            out.add(
                "band-bounds",
                row["key"],
                tile,
                f"{row['key']}: its box is {exact_number(off_x)} x "
                f"{exact_number(off_y)} CRS units off the common box of the tile's files, "
                f"more than one pixel ({exact_number(res[pos, 0])})",
                box=box,
            )


def exact_number(value: float) -> str:
    """A coordinate for a command line, exactly: whole numbers without ``.0``, never ``%g``.

    ``%g`` keeps 6 significant digits, so a northing of 4,994,885 would print as
    ``4.99488e+06`` and a fix command would cut 5 m off the box.

    Examples
    --------
    >>> exact_number(4994885.0), exact_number(4994885.25), exact_number(0.1 + 0.2)
    ('4994885', '4994885.25', '0.30000000000000004')
    """
    value = float(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _extension(key: str) -> str:
    name = str(key).rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[1] if "." in name else ""


def check(
    files: pd.DataFrame | str,
    *,
    pattern: str | None = None,
    bands: Mapping[str, Mapping[str, Any]] | None = None,
    rules: RuleSet = DEFAULT_RULES,
    endpoint_url: str | None = None,
    s3: S3Like | None = None,
    progress: bool | None = None,
    max_unmatched: float = MAX_UNMATCHED,
    client: S3Like | None = None,
) -> pd.DataFrame:
    r"""Run every rule of the table on each file and each tile; one row per finding.

    Parameters
    ----------
    files : pandas.DataFrame or str
        A files frame from `byocframe.read_bucket`, or a URL to read one from.
    pattern : str, optional
        The tile pattern (see `byocframe.read_bucket`). Without it, one is inferred
        where the layout is plain (`byocframe.bucket.patterns.infer_pattern`: one folder per
        tile, one file per band); the findings' ``attrs["byocframe"]["pattern"]`` holds
        the pattern used.
    bands : dict, optional
        The collection's ``additionalData.bands``: each band's file (``source``) must
        exist in every tile and have the band's sample type. Without it, every tile must
        have the union of the band names found, with the most common sample type.
    rules : RuleSet
        The limits; `DEFAULT_RULES` by default.
    endpoint_url : str, optional
        For a URL of an S3-compatible store.
    s3 : boto3 S3 client, optional
        For a URL: instead of one built from the environment.
    progress : bool, optional
        A progress bar while reading headers.
    max_unmatched : float
        The largest fraction of the GeoTIFFs the pattern may leave unmatched (default
        `byocframe.bucket.patterns.MAX_UNMATCHED`, one half); beyond it, or when it matches
        none, a `ValidationError` (a typo in a pattern would otherwise pass, with one
        ``unmatched`` warning per file).
    client : boto3 S3 client, optional
        The old name of ``s3`` (a `FutureWarning`).

    Returns
    -------
    pandas.DataFrame
        `FINDING_COLUMNS`: ``file``, ``tile``, ``rule``, ``severity`` (``error``: ingestion
        would fail), ``message``, ``fix`` and the ``service_message`` ingestion gives.

    Examples
    --------
    >>> import tempfile
    >>> from byocframe.emulator.cogs import write_cog
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_cog(f"{folder}/t1/B01.tif")
    >>> _ = write_cog(f"{folder}/t1/B02.tif", blocksize=128)
    >>> _ = write_cog(f"{folder}/t2/B01.tif")
    >>> findings = check(folder, pattern=r"(?P<tile>t\d)/(BAND)\.tif", progress=False)
    >>> findings[["file", "tile", "rule"]]
             file           tile          rule
    0  t1/B02.tif  t1/(BAND).tif    block-size
    1         NaN  t2/(BAND).tif  missing-band
    >>> print(findings["fix"].iloc[1])
    upload t2/B02.tif, or remove the band from the collection
    """
    s3 = s3_keyword(s3, client, "check")
    if isinstance(files, str):
        source = open_bucket(files, endpoint_url=endpoint_url, client=s3)
        files = read_bucket(source, progress=progress)
    keys = [str(k) for k in files["key"]]
    if pattern is None:
        pattern = infer_pattern(keys)
    assigned = assign_tiles(files, pattern)
    check_coverage(keys, assigned["tile"].notna().tolist(), pattern, max_unmatched=max_unmatched)
    out = Findings(rules)
    for row in assigned[assigned["tile"].isna()].to_dict("records"):
        out.add("unmatched", row["key"], None, f"{row['key']}: the pattern matches no tile")
    matched = assigned.dropna(subset=["tile"])
    if bands:
        sources = sorted(band_dtypes(bands)) or sorted(
            str(s.get("source") or n) for n, s in bands.items()
        )
        dtypes = band_dtypes(bands)
    else:
        sources = sorted(matched["band"].dropna().unique())
        dtypes = _common_types(matched)
    exts = matched["key"].map(_extension)
    extension = exts.mode().iloc[0] if len(exts) else None
    bucket = str(files.attrs.get("byocframe", {}).get("bucket", ""))
    name = bucket[5:].split("/", 1)[0] if bucket.startswith("s3://") else ""
    for tile, group in matched.groupby("tile", sort=True):
        check_tile_files(
            str(tile),
            group,
            out,
            sources=sources,
            dtypes=dtypes,
            extension=extension,
            bucket=name,
        )
    findings = out.frame()
    findings.attrs["byocframe"] = {"pattern": pattern}
    return findings


def _common_types(files: pd.DataFrame) -> dict[str, str]:
    valid = files.dropna(subset=["dtype"])
    return {str(band): str(group["dtype"].mode().iloc[0]) for band, group in valid.groupby("band")}


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
