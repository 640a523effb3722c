r"""Pre-flight checks of BYOC files: the rules of COG_RULES.md, per file and per tile.

`check` reads a bucket (or takes a files frame), assigns its files to tiles by a
pattern (given, or inferred by `byocframe.bucket.patterns.infer_pattern`) and runs every
rule of the table on each file and each tile; one row per finding. The parts live in
their own modules and are still importable from here:

* `byocframe.bucket.rules`: the rule table (`RULES`) as data, the limits it applies
  (`RuleSet`, ``RuleSet.replace(...)`` for a deployment that ingests more CRSs) and
  the `Findings` it records. Requirements, limits and service messages come from
  `byocframe.file_rules`, the data-only table the local service's ingestion
  (`byocframe.emulator.judge`) judges files by with its own code.
* `byocframe.bucket.file_checks`: the rules of one file (`check_file`).
* `byocframe.bucket.tile_checks`: the rules of one tile's files together
  (`check_tile_files`, `band_dtypes`, `exact_number`).
* `byocframe.bucket.derive`: what the service will derive per tile (`predict`, `derived`).

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

from collections.abc import Mapping
from typing import Any

import pandas as pd

from byocframe.bucket.access import open_bucket, s3_keyword
from byocframe.bucket.derive import derived, predict
from byocframe.bucket.file_checks import check_file
from byocframe.bucket.files import read_bucket
from byocframe.bucket.patterns import MAX_UNMATCHED, check_coverage, infer_pattern
from byocframe.bucket.rules import (
    DEFAULT_RULES,
    FINDING_COLUMNS,
    RULES,
    Findings,
    Rule,
    RuleSet,
    rule_table,
)
from byocframe.bucket.tile_checks import (
    band_dtypes,
    check_tile_files,
    exact_number,
    key_extension,
)
from byocframe.bucket.tiles import assign_tiles
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
    exts = matched["key"].map(key_extension)
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
