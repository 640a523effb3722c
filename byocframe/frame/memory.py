"""Memory while building large frames: the garbage collector and Arrow's allocator.

Building a frame of a million tiles creates millions of short-lived objects and Arrow
arrays. Two things cost more than the work itself unless handled:

* the cyclic garbage collector, triggered by the allocations, walks every object alive
  (the records being converted, several KB a tile) again and again; nothing built here
  makes reference cycles, so `building` pauses it;
* Arrow's allocator (mimalloc in the pyarrow wheels) keeps what freed arrays used until
  its next collection: ~0.4 KB a tile after a build, ~1.7 KB a tile after reading a
  GeoParquet file (measured with ``benchmarks/bench_frame_scale.py``), which
  `release_arrow_memory` gives back to the system.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

import pyarrow as pa

__all__ = ["building", "release_arrow_memory"]


@contextlib.contextmanager
def building() -> Iterator[None]:
    """Pause the cyclic garbage collector while building; release Arrow's spare memory after.

    Building tens of thousands of geometries and strings creates no reference cycles,
    but it triggers many full collections; pausing them saves a fifth of a build and
    three fifths of stamping a frame while its records are alive.

    Examples
    --------
    >>> import gc
    >>> with building():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        release_arrow_memory()


def release_arrow_memory() -> None:
    """Give the system back the memory Arrow's allocator keeps from freed arrays.

    Examples
    --------
    >>> release_arrow_memory()  # nothing to see: the process's resident size drops
    """
    pa.default_memory_pool().release_unused()
