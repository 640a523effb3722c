"""What a library logs while it reads something for us, collected instead of logged.

tifffile logs what it skips or repairs in a damaged file (a bad tag, a circular IFD
chain) and goes on. While a header is read on a thread, those errors are the file's
problem (to report with the file), not noise in the user's log; on other threads, and
for other users of the library, its log is left alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collect_errors"]

_LOCAL = threading.local()
_INSTALL = threading.Lock()


class _Collect(logging.Filter):
    """Diverts a logger's records on threads that collect them (ERROR and above kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        sink: list[str] | None = getattr(_LOCAL, self.name, None)
        if sink is None:
            return True  # not collecting on this thread: the record is logged as usual
        if record.levelno >= logging.ERROR:
            sink.append(" ".join(record.getMessage().split()))
        return False


_FILTERS: dict[str, _Collect] = {}


@contextmanager
def collect_errors(logger_name: str) -> Iterator[list[str]]:
    r"""Collect the errors ``logger_name`` logs on this thread, one line each.

    Records below ERROR are dropped while collecting; other threads log as usual.

    Examples
    --------
    >>> import logging
    >>> with collect_errors("doc.example") as errors:
    ...     logging.getLogger("doc.example").error("bad tag  %d\nskipped", 270)
    >>> errors
    ['bad tag 270 skipped']
    """
    with _INSTALL:
        if logger_name not in _FILTERS:
            _FILTERS[logger_name] = _Collect(logger_name)
            logging.getLogger(logger_name).addFilter(_FILTERS[logger_name])
    sink: list[str] = []
    outer = getattr(_LOCAL, logger_name, None)
    setattr(_LOCAL, logger_name, sink)
    try:
        yield sink
    finally:
        setattr(_LOCAL, logger_name, outer)
