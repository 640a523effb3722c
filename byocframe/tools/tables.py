"""How coverage tables show their numbers: areas as ``5,731,907.2``, never ``5.731907e+06``."""

from __future__ import annotations

import pandas as pd

__all__ = ["CoverageTable", "format_number"]


def format_number(value: float) -> str:
    """Areas with thousands separators, fractions with 3 decimals; never ``5.731907e+06``.

    Examples
    --------
    >>> format_number(5731907.25), format_number(0.5)
    ('5,731,907.2', '0.500')
    """
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


class CoverageTable(pd.DataFrame):
    """The table `coverage` returns: a DataFrame whose areas display as ``5,731,907.2``.

    pandas shows any column holding a value over a million in scientific notation
    (``5.731907e+06``), in a notebook and when printed; this table shows its numbers
    with `format_number` instead. The values are the full floats; anything derived from
    the table (a selection, arithmetic) is a plain DataFrame.

    Examples
    --------
    >>> table = CoverageTable({"covered_km2": [5731907.25, 12.5]})
    >>> print(table)
       covered_km2
    0  5,731,907.2
    1         12.5
    """

    def __repr__(self) -> str:
        with pd.option_context("display.float_format", format_number):
            return super().__repr__()

    def _repr_html_(self) -> str | None:
        with pd.option_context("display.float_format", format_number):
            return super()._repr_html_()
