"""Progress bars for long listings and pushes (tqdm, optional)."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

__all__ = ["ProgressBar", "interactive"]


def interactive() -> bool:
    """A terminal, or a notebook that can draw progress widgets (text bars would litter it)."""
    if "ipykernel" in sys.modules:
        return importlib.util.find_spec("ipywidgets") is not None
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


class ProgressBar:
    """A tqdm bar counting tiles, or nothing.

    Parameters
    ----------
    total : int or None
        Tiles expected (None: unknown); no bar for 0.
    progress : bool or None
        True: always (needs tqdm), False: never, None: when `interactive`.
    what : str
        The bar's label.
    """

    def __init__(self, total: int | None, progress: bool | None, what: str):
        self._bar: Any = None
        show = interactive() if progress is None else progress
        if not show or total == 0:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            if progress:
                raise ImportError(
                    "progress bars need tqdm: pip install 'byocframe[progress]'"
                ) from None
            return
        self._bar = tqdm(total=total, desc=what, unit=" tiles")

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, n: int) -> None:
        """Count ``n`` more tiles."""
        if self._bar is not None:
            self._bar.update(n)
