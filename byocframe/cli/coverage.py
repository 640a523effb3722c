"""The footprint commands: ``coverage`` (statistics) and ``map``."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

from byocframe.cli.common import account_options, check_output
from byocframe.cli.tiles import read_collection
from byocframe.exceptions import ByocframeWarning, ValidationError
from byocframe.tools.tables import format_number

__all__ = ["MAX_AOI_VERTICES", "add_commands", "read_aoi"]

#: Most vertices an ``--aoi`` file's geometries may have, counted once it is read and
#: before they are merged into one area (a million vertices in 1,000 polygons: 0.85 s
#: to merge; the coverage then intersects every tile with the result). Simplify the
#: file, or raise it (``byocframe.cli.coverage.MAX_AOI_VERTICES = ...``, from Python).
MAX_AOI_VERTICES = 1_000_000


AOI_HELP = (
    "west,south,east,north in degrees (write --aoi=-60,-30,-45,-15 when it starts with a "
    "minus), or a vector file (GeoJSON, GPKG)"
)
AOI_LAYER_HELP = (
    "the --aoi file's layer (default: its only layer with a geometry that is not a byocframe "
    "tile table)"
)


def add_commands(commands: Any) -> None:
    """Add ``coverage`` and ``map`` to the subcommands."""
    cover = commands.add_parser(
        "coverage",
        help="print footprint coverage statistics",
        description="Footprint, covered and overlap areas (km2, on the ellipsoid).",
    )
    cover.add_argument("collection", metavar="COLLECTION", help="collection id or name")
    cover.add_argument("--aoi", help=AOI_HELP)
    cover.add_argument("--aoi-layer", metavar="LAYER", help=AOI_LAYER_HELP)
    cover.add_argument(
        "--by",
        help="date, status, day, week, month, quarter, year, or a pandas frequency (e.g. MS)",
    )
    account_options(cover)
    cover.set_defaults(handler=run_coverage)

    drawing = commands.add_parser(
        "map",
        help="draw a coverage map",
        description="Draw COLLECTION's tiles on a map.",
    )
    drawing.add_argument("collection", metavar="COLLECTION", help="collection id or name")
    drawing.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("map.png"),
        help="image to write: .png, .pdf, .svg or .jpg (default map.png)",
    )
    drawing.add_argument("--column", help="colour by this column (default status)")
    drawing.add_argument("--aoi", help=AOI_HELP + "; the map zooms to it and outlines it")
    drawing.add_argument("--aoi-layer", metavar="LAYER", help=AOI_LAYER_HELP)
    drawing.add_argument(
        "--basemap",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fetch web map tiles under the footprints (default: try, fall back to the "
        "shipped land layer)",
    )
    account_options(drawing)
    drawing.set_defaults(handler=run_map)


def run_coverage(args: argparse.Namespace) -> int:
    """``byocframe coverage``: print the coverage table."""
    aoi = read_aoi(args.aoi, args.aoi_layer) if args.aoi else None
    by = "sensing_time" if args.by == "date" else args.by
    table = read_collection(args).byoc.coverage(aoi, by=by)
    print(table.to_string(float_format=format_number))
    return 0


def read_aoi(text: str, layer: str | None = None) -> Any:
    """``--aoi``: a ``west,south,east,north`` box in degrees or a vector file.

    A file of several layers (a GeoPackage ``byocframe tiles -o`` wrote, with an AOI
    layer added) is read at ``layer``, else at its only layer with a geometry that is not
    a tile table byocframe wrote (a table without one, such as QGIS's ``layer_styles``,
    is no area); when that leaves several, the error names them. Only the geometries
    are read, not the file's other columns.

    Examples
    --------
    >>> read_aoi("-60,-30,-45,-15")
    (-60.0, -30.0, -45.0, -15.0)
    """
    parts = text.split(",")
    if len(parts) == 4:
        try:
            return tuple(float(p) for p in parts)
        except ValueError:
            pass
    import geopandas as gpd
    import pyogrio

    from byocframe.io.table_cells import gpkg_rows

    path = Path(text)
    if not path.exists():
        raise ValueError(
            f"--aoi {text!r}: file not found, and not west,south,east,north in degrees"
        )
    try:
        layer = _aoi_layer(path, text, layer)
        info = pyogrio.read_info(path, layer=layer)
        if info.get("driver") == "GPKG":  # pyogrio reads no more than its stored count
            gpkg_rows(path, layer, info.get("features"))
        # its area only: GDAL gives a column to each property any feature names, filled
        # for every feature (5,000 features naming one each: 25 million cells, 0.8 GB)
        frame = gpd.read_file(path, layer=layer, columns=[])
    except ValidationError:
        raise
    except Exception as err:  # pyogrio raises its own error types for unreadable files
        raise ValueError(f"--aoi {text!r}: not a vector file GDAL can read ({err})") from err
    _check_vertices(frame, text)
    return frame


def _aoi_layer(path: Path, text: str, layer: str | None) -> str | None:
    """The layer of ``path`` to read as the AOI (None: the file's only one)."""
    import pyogrio

    listed = pyogrio.list_layers(path)
    names = [str(n) for n in listed[:, 0]]
    if layer is not None:
        if layer not in names:
            raise ValidationError(
                f"--aoi {text!r} has no layer {layer!r}: its layers are {', '.join(names)}"
            )
        return layer
    if len(names) < 2:
        return None
    # tables without geometry (QGIS's layer_styles) are no area
    shaped = [str(n) for n, kind in listed if kind is not None]
    areas = [
        name
        for name in shaped
        if "byocframe" not in (pyogrio.read_info(path, layer=name).get("layer_metadata") or {})
    ]
    if len(areas) == 1:
        return areas[0]
    raise ValidationError(
        f"--aoi {text!r} has {len(names)} layers ({', '.join(names)}): "
        "name the area's with --aoi-layer"
    )


def _check_vertices(frame: Any, text: str) -> None:
    """Refuse an AOI of more than `MAX_AOI_VERTICES` vertices, before they are merged."""
    import shapely

    vertices = int(shapely.get_num_coordinates(frame.geometry.array).sum())
    if vertices > MAX_AOI_VERTICES:
        raise ValidationError(
            f"--aoi {text!r}: {vertices:,} vertices, more than {MAX_AOI_VERTICES:,} "
            "(byocframe.cli.coverage.MAX_AOI_VERTICES): simplify the area (e.g. "
            "ogr2ogr -simplify), or raise the limit"
        )


def run_map(args: argparse.Namespace) -> int:
    """``byocframe map``: draw the tiles and save the figure."""
    import matplotlib

    matplotlib.use("Agg")
    check_output(args.output, (".png", ".pdf", ".svg", ".jpg"))
    if args.column is not None:
        from byocframe.frame.convert import tiles_from_records
        from byocframe.maps.columns import colour_columns

        known = tiles_from_records([])
        usable = colour_columns(known)
        if args.column not in usable:
            why = "is not a tile column" if args.column not in known else "cannot colour a map"
            raise ValueError(f"--column {args.column!r} {why}; use one of {', '.join(usable)}")
    # a bad --aoi fails before the listing
    aoi = read_aoi(args.aoi, args.aoi_layer) if args.aoi else None
    gdf = read_collection(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ByocframeWarning)
        ax = gdf.byoc.plot(args.column, basemap=args.basemap, aoi=aoi)
    if caught:
        print("note: no web map tiles could be fetched; drew the shipped land layer")
    ax.figure.savefig(args.output, dpi=120)
    print(f"map of {len(gdf):,} tiles written to {args.output}")
    return 0
