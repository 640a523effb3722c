"""Resource limits of the local BYOC service, with their defaults.

The HTTP side (timeouts, connections, sizes of heads and bodies) and the Catalog's
search requests (JSON nesting, the ``filter``, the ``intersects`` geometry). Each is
checked before the work it bounds; a breach is answered with a message naming it.

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
    max_connections_per_address : int, default 48
        Connections one client address may hold at once, so that one client cannot take
        every slot (300 half-sent connections starved every other client); more are
        answered 503 at once. The default leaves room for byocframe's 32 push workers.
    room_wait : float, default 1
        Seconds a new connection, at one of the two connection limits, waits for the idle
        keep-alive connection closed to make room for it to end (its thread must see the
        end and leave); past it, the new one is answered 503 naming this setting. The
        wait ends as soon as the room is free: raise it on a heavily loaded machine.
    stop_timeout : float, default 5
        Seconds `byocframe.emulator.LocalService.stop` waits for the serving thread to
        stop, again for requests under way to be answered, before it closes the
        database anyway (logging a warning), and for the ingestion thread's tile.
    max_body_bytes : int, default 16 MiB
        Largest request body (declared or chunked); larger ones are answered 413 before
        they are read.
    max_chunks : int, default 65,536
        Most chunks of one chunked request body; more get 413 before the next is read.
        Each chunk costs a line read and parsed: a 16 MiB body sent one byte a chunk
        took about 15 s of the service's CPU (the GIL held against every other client),
        against milliseconds for the same body in a few chunks.
    max_header_bytes : int, default 64 KiB
        Largest request head (request line and headers); larger ones get 431.
    max_line_bytes : int, default 8 KiB
        Longest request line; longer ones get 414.
    max_query_fields : int, default 50
        Most parameters in a request's query string (``a=1&b=2`` holds two); more get
        400 naming it before any is looked at. The BYOC and Catalog APIs take fewer than
        20; a Catalog search with many values posts them in its body.
    max_json_depth : int, default 32
        Deepest nesting of a Catalog request body (the BYOC API's fixed cap); deeper
        bodies get 400 before their values are looked at.
    max_filter_bytes : int, default 16 KiB
        Longest Catalog ``filter``, in UTF-8 bytes of its text (cql2-text, or the JSON
        text of a cql2-json filter); longer ones get 400 before they are parsed.
    max_filter_terms : int, default 256, at most 500
        Most conditions plus ``NOT`` operators in one filter. Counted on the text
        before it is parsed (``AND``/``OR``/``NOT`` keywords, a ``BETWEEN``'s ``AND``
        excepted) and again on the parsed filter; more get 400. The cap of 500 keeps
        the SQL within SQLite's expression depth and the parser's stack.
    max_filter_depth : int, default 10, at most 20
        Deepest nesting of ``AND``/``NOT`` in one filter; more get 400. Before parsing,
        parentheses may nest one level deeper than this (a bracketed condition).
        The cap of 20 keeps the SQL within SQLite's parser stack.
    max_intersects_parts : int, default 500
        Most parts (polygons, lines, points) of an ``intersects`` geometry; more get
        400 before the geometry is built.
    max_fields : int, default 256
        Most names in a Catalog ``fields`` (``include`` and ``exclude`` together, or the
        GET list); more get 400 before any item is trimmed (each name is applied to each
        item of the page: 880,000 dotted names in a 16 MiB body cost 1.6 s of CPU an
        item, minutes a page).
    """

    read_timeout: float = 30.0
    idle_timeout: float = 60.0
    max_connections: int = 64
    max_connections_per_address: int = 48
    room_wait: float = 1.0
    stop_timeout: float = 5.0
    max_body_bytes: int = 16 * 2**20
    max_chunks: int = 65_536
    max_header_bytes: int = 64 * 2**10
    max_line_bytes: int = 8 * 2**10
    max_query_fields: int = 50
    max_json_depth: int = 32
    max_filter_bytes: int = 16 * 2**10
    max_filter_terms: int = 256
    max_filter_depth: int = 10
    max_intersects_parts: int = 500
    max_fields: int = 256

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not value > 0:
                raise ValueError(f"{item.name} must be positive, got {value!r}")
        if self.max_line_bytes > self.max_header_bytes:
            raise ValueError("max_line_bytes must not exceed max_header_bytes")
        for name, cap in (("max_filter_terms", 500), ("max_filter_depth", 20)):
            if getattr(self, name) > cap:
                raise ValueError(f"{name} must be at most {cap}, got {getattr(self, name)!r}")
