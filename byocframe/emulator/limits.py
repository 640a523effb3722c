"""Resource limits of the local BYOC service's HTTP side, with their defaults.

Examples
--------
>>> Limits(read_timeout=0.2).max_body_bytes
16777216
>>> Limits(max_connections=0)
Traceback (most recent call last):
...
ValueError: max_connections must be positive, got 0
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """What one client may cost the service.

    Parameters
    ----------
    read_timeout : float, default 30
        Seconds a client has to send one whole request (line, headers and body) once its
        first byte arrived; slower requests are answered 408 and the connection closed.
    idle_timeout : float, default 60
        Seconds a keep-alive connection may wait for its next request.
    max_connections : int, default 64
        Connections served at once (one thread each); more are answered 503 at once.
    max_body_bytes : int, default 16 MiB
        Largest request body (declared or chunked); larger ones are answered 413 before
        they are read.
    max_header_bytes : int, default 64 KiB
        Largest request head (request line and headers); larger ones get 431.
    max_line_bytes : int, default 8 KiB
        Longest request line; longer ones get 414.
    """

    read_timeout: float = 30.0
    idle_timeout: float = 60.0
    max_connections: int = 64
    max_body_bytes: int = 16 * 2**20
    max_header_bytes: int = 64 * 2**10
    max_line_bytes: int = 8 * 2**10

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not value > 0:
                raise ValueError(f"{item.name} must be positive, got {value!r}")
        if self.max_line_bytes > self.max_header_bytes:
            raise ValueError("max_line_bytes must not exceed max_header_bytes")
