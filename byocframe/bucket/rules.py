"""The rule table of COG_RULES.md, the limits it applies, and the findings it records.

The rule table (`RULES`) is data: each rule has an id, a scope, a severity, the short
message the service would give and the fix a user can run. The limits (supported CRSs,
block sizes, header size, compressions, sample types) live in a `RuleSet`, so a
deployment that ingests more CRSs is one ``RuleSet.replace(...)`` away. Requirements,
limits and service messages come from `byocframe.file_rules`. A `Findings` collects
what the checks (`byocframe.bucket.file_checks`, `byocframe.bucket.tile_checks`) find,
one row per finding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from byocframe.file_rules import REQUIREMENTS, SERVICE_MESSAGES, FileRules

__all__ = [
    "DEFAULT_RULES",
    "FINDING_COLUMNS",
    "RULES",
    "Findings",
    "Rule",
    "RuleSet",
    "is_missing",
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
        name = str(file) if file is not None and not is_missing(file) else ""
        values.setdefault("file", name.rsplit("/", 1)[-1] or "<file>")
        values.setdefault("stem", values["file"].rsplit(".", 1)[0])
        self.rows.append(
            {
                "file": name or None,
                "tile": None if tile is None or is_missing(tile) else str(tile),
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


def is_missing(value: Any) -> bool:
    """Whether ``value`` is a missing scalar (None, NaN, NA, NaT); False for anything else.

    Examples
    --------
    >>> is_missing(None), is_missing(float("nan")), is_missing("EPSG:4326"), is_missing([1])
    (True, True, False, False)
    """
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
