"""The ``byocframe`` command line, one module per command group.

- `byocframe.cli.serve`: ``demo``, ``serve`` (the local service)
- `byocframe.cli.tiles`: ``collections``, ``tiles`` (pull to a file), ``push``
- `byocframe.cli.coverage`: ``coverage``, ``map``
- `byocframe.cli.bucket`: ``check``, ``bucket``, ``reconcile``
- `byocframe.cli.confirm`: the ``--delete-limit`` / ``--confirm-deletes`` guard of both
  deleting commands
- `byocframe.cli.app`: the parser and `main` (the console script ``byocframe``)
"""

from byocframe.cli.app import main
from byocframe.cli.confirm import DELETE_LIMIT

__all__ = ["DELETE_LIMIT", "main"]
