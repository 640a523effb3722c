"""Run ``byocframe serve`` in its own process for a benchmark (client and server then do
not share one Python interpreter)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def served(*options: str) -> Iterator[str]:
    """Start the local service with ``options``; yield its base URL; stop it after."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "byocframe.cli",
            "serve",
            "--port",
            "0",
            "--db",
            os.path.join(tmp, "bench.sqlite"),
            *options,
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            yield process.stdout.readline().rsplit(" ", 1)[-1].strip()
        finally:
            process.terminate()
            process.wait()
            process.stdout.close()
