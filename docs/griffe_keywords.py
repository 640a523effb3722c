"""A griffe extension for the API reference: one signature for two functions.

`byocframe.local_service` takes the keywords of `byocframe.emulator.create_service`
(``@_keywords_of(create_service)``, which hands the signature on at run time through
``__wrapped__``). griffe reads the source without running it, so it would show
``local_service(**options)``; this extension gives such a function the parameters of the
function its decorator names (in the same module), as ``help()`` and type checkers see
them. Loaded by ``mkdocs.yml`` (``extensions:`` of the python handler).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_DECORATOR = re.compile(r"^_keywords_of\((\w+)\)$")


class KeywordsOf(griffe.Extension):
    """Copy ``source``'s parameters onto a function decorated ``@_keywords_of(source)``."""

    def on_function_instance(self, *, func: griffe.Function, **kwargs: Any) -> None:
        """Once griffe has read ``func``: take its source's parameters if it names one."""
        for decorator in func.decorators:
            named = _DECORATOR.match(str(decorator.value))
            if named is None:
                continue
            source = func.parent.members.get(named.group(1)) if func.parent else None
            if not isinstance(source, griffe.Function):
                raise ValueError(
                    f"{func.path}: @_keywords_of names {named.group(1)!r}, which is no "
                    "function defined above it in the same module: define it first"
                )
            func.parameters = griffe.Parameters(*source.parameters)
