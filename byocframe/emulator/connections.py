"""Connection limits of the local service's HTTP server: slots, per-address caps, idle eviction.

At most ``Limits.max_connections`` connections are served at once, and at most
``Limits.max_connections_per_address`` from one client address. At a limit, a kept-alive
connection that waits for its next request is closed first (opening it again costs its
client nothing); only when none is idle does the new connection get a one-line 503.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from byocframe.emulator.limits import Limits
from byocframe.emulator.render import error_body

__all__ = ["LimitedHTTPServer"]


class LimitedHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that holds its connections within `Limits`.

    Parameters
    ----------
    address : (host, port)
        Port 0 picks a free one.
    handler : type of BaseHTTPRequestHandler
        Serves one connection on its own thread.
    limits : Limits
        ``max_connections`` and ``max_connections_per_address`` are used here.

    Examples
    --------
    >>> from http.server import BaseHTTPRequestHandler
    >>> server = LimitedHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler, Limits())
    >>> server.limits.max_connections_per_address
    48
    >>> server.server_close()
    """

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        limits: Limits,
    ):
        super().__init__(address, handler)
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        self._per_address: dict[str, int] = {}
        self._address_lock = threading.Lock()
        self._left = threading.Condition(self._address_lock)
        #: Kept-alive connections waiting for their next request, oldest first, per address.
        self._idle: dict[str, dict[socket.socket, None]] = {}
        #: Every connection waiting for a request (new ones too), for `close_connections`.
        self._waiting: set[socket.socket] = set()
        #: Connections with a request under way (its first byte read), for `wait_connections`.
        self._busy: dict[socket.socket, str] = {}
        #: Set by `close_connections`: no connection waits for another request.
        self.closing = False

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve a connection on its own thread, or answer 503 at once.

        503 when the client's address already holds `Limits.max_connections_per_address`
        connections, or when all `Limits.max_connections` slots are taken.
        """
        address = str(client_address[0]) if client_address else ""
        cap = self.limits.max_connections_per_address
        evicted = False
        with self._address_lock:
            held = self._per_address.get(address, 0)
            if held >= cap and self._evict_idle(address):
                # a keep-alive connection of the same client made room: wait for it to go
                evicted = True
                self._left.wait_for(
                    lambda: self._per_address.get(address, 0) < cap, self.limits.room_wait
                )
                held = self._per_address.get(address, 0)
            if held < cap:
                self._per_address[address] = held + 1
                self._left.notify_all()  # for `wait_connections`
        if held >= cap:
            self._refuse(
                request,
                f"Too many connections from your address ({cap}, "
                "Limits.max_connections_per_address); close some or retry shortly."
                + (self._late_room() if evicted else ""),
            )
            return
        if not self._slots.acquire(blocking=False):
            room = self._slot_from_idle()
            if room is not True:
                self._leave(address)
                self._refuse(
                    request,
                    "Too many connections (Limits.max_connections); retry shortly."
                    + (self._late_room() if room is None else ""),
                )
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            self._leave(address)
            raise

    def _leave(self, address: str, sock: Any = None) -> None:
        with self._address_lock:
            self._busy.pop(sock, None)
            left = self._per_address.get(address, 1) - 1
            if left > 0:
                self._per_address[address] = left
            else:
                self._per_address.pop(address, None)
            self._left.notify_all()

    def waiting(
        self, address: str, sock: socket.socket, waits: bool, *, evictable: bool = False
    ) -> None:
        """Note that a connection waits for a request (``waits``), or no longer does.

        ``evictable``: it was answered before and is kept alive, so it may be closed to
        make room at a connection limit (a new connection may not).
        """
        with self._address_lock:
            if not waits:
                self._waiting.discard(sock)
                self._idle.get(address, {}).pop(sock, None)
                self._busy[sock] = address
                self._left.notify_all()  # a request has begun, for `wait_connections`
            elif self.closing:  # closing: this one waits for nothing more
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            else:
                self._waiting.add(sock)
                self._busy.pop(sock, None)
                if evictable:
                    self._idle.setdefault(address, {})[sock] = None
                self._left.notify_all()  # for `wait_connections`

    def close_connections(self, timeout: float | None = None) -> bool:
        """End every connection: those waiting at once, the others after their request.

        Returns whether all ended within ``timeout`` seconds (default
        `Limits.stop_timeout`). Call it after the server
        stopped accepting and before what requests use (the store) is closed, so that no
        kept-alive connection reaches a closed store.

        Examples
        --------
        >>> import byocframe
        >>> service = byocframe.local_service()
        >>> service.stop()  # calls close_connections: no connection outlives it
        """
        with self._address_lock:
            self.closing = True
            for sock in self._waiting:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._waiting.clear()
            self._idle.clear()
            wait = self.limits.stop_timeout if timeout is None else timeout
            return self._left.wait_for(lambda: not self._per_address, wait)

    def wait_connections(
        self,
        address: str,
        *,
        held: int,
        idle: int | None = None,
        busy: int | None = None,
        timeout: float = 60.0,
    ) -> bool:
        """Wait until ``address`` holds ``held`` connections, as many as asked of them idle.

        ``idle``: kept alive after an answer (so they may be closed to make room);
        ``busy``: with a request under way (its first byte read, its answer not yet
        sent). Returns whether it happened within
        ``timeout`` seconds. For scripts and tests that must know what the server has
        seen (a connection ended, a kept-alive one waits for its next request, a
        request began) without sleeping.

        Examples
        --------
        >>> from http.server import BaseHTTPRequestHandler
        >>> server = LimitedHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler, Limits())
        >>> server.wait_connections("127.0.0.1", held=0, idle=0, timeout=5)
        True
        >>> server.server_close()
        """

        def seen() -> bool:
            return (
                self._per_address.get(address, 0) == held
                and (idle is None or len(self._idle.get(address, ())) == idle)
                and (busy is None or list(self._busy.values()).count(address) == busy)
            )

        with self._address_lock:
            return self._left.wait_for(seen, timeout)

    def _evict_idle(self, address: str | None) -> bool:
        """Close the oldest idle keep-alive connection (of ``address``, or of anyone).

        Idle connections cost a client nothing to open again, while a refused one costs
        it a request: at a limit, idle connections give way first. A connection whose
        next request has begun to arrive is not idle. Called with the address lock held.
        """
        pools = [self._idle.get(address, {})] if address is not None else self._idle.values()
        for pool in pools:
            for sock in list(pool):
                del pool[sock]
                with contextlib.suppress(OSError, ValueError):
                    ready, _, _ = select.select([sock], [], [], 0)
                    if ready:  # a request (or the end) is arriving: not idle after all
                        continue
                    sock.shutdown(socket.SHUT_RDWR)  # its handler sees the end and leaves
                    return True
        return False

    def _slot_from_idle(self) -> bool | None:
        """A service-wide slot, after closing someone's idle connection.

        True: a slot was taken; False: no connection was idle; None: one was closed but
        did not end within `Limits.room_wait`.
        """
        with self._address_lock:
            evicted = self._evict_idle(None)
        if not evicted:
            return False
        return True if self._slots.acquire(timeout=self.limits.room_wait) else None

    def _late_room(self) -> str:
        return (
            f" (an idle connection closed to make room did not end within "
            f"{self.limits.room_wait:g} s, Limits.room_wait; raise it on a loaded machine)"
        )

    def _refuse(self, request: Any, message: str) -> None:
        body = json.dumps(error_body(503, "COMMON_EXCEPTION", message)).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            request.settimeout(0.5)  # the answer fits in the socket buffer
            request.sendall(head.encode() + body)
        self.shutdown_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection and give its slots back."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()
            self._leave(str(client_address[0]) if client_address else "", request)
