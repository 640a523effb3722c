"""Modules whose code moved keep their settings in effect at the old path.

When a module is split, its old path stays importable and hands its names on. A
setting (an UPPER_CASE module constant such as ``CELL_SIZE``) handed on that way is a
copy: ``byocframe.tools.stats.CELL_SIZE = ...`` would change the copy and not the value
the code reads. `forward_settings` makes the old module set such a name at its new
home too, and read one it no longer holds from there.

Examples
--------
>>> import types
>>> home = types.ModuleType("home")
>>> home.LIMIT = 10
>>> old = types.ModuleType("old")
>>> old.LIMIT = home.LIMIT
>>> forward_settings(old, home)
>>> old.LIMIT = 30
>>> home.LIMIT
30
"""

from __future__ import annotations

import types
from typing import Any

__all__ = ["forward_settings"]


class _Forwarding(types.ModuleType):
    """A module whose settings live in other modules (`forward_settings`)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name.isupper():
            for home in self.__dict__.get("__settings_homes__", ()):
                if hasattr(home, name):
                    setattr(home, name, value)
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:
        if name.isupper():
            for home in self.__dict__.get("__settings_homes__", ()):
                if hasattr(home, name):
                    return getattr(home, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


def forward_settings(module: types.ModuleType, *homes: types.ModuleType) -> None:
    """Make ``module`` set its UPPER_CASE names at ``homes`` too, and read missing ones there.

    Call it at the end of a module that hands on the names of the modules its code moved
    to: ``forward_settings(sys.modules[__name__], new_home, other_home)``.
    """
    module.__dict__["__settings_homes__"] = homes
    module.__class__ = _Forwarding
