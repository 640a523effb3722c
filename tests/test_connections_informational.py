"""Attacks on the lean keep-alive pool (`byocframe.connections`) from raw loopback servers."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from byocframe.connections import ConnectionPool

Handler = Callable[[socket.socket], None]


def _read_request(reader) -> str | None:
    """The target of the next request on ``reader`` (its body is read and dropped)."""
    line = reader.readline()
    if not line:
        return None
    length = 0
    while (header := reader.readline()) not in (b"\r\n", b""):
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    reader.read(length)
    return line.split()[1].decode()


@pytest.fixture
def raw() -> Iterator[Callable[[Handler], str]]:
    """Start a raw TCP server handling each connection with ``handler``; its URL."""
    listeners: list[socket.socket] = []

    def start(handler: Handler) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def accept() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                threading.Thread(target=_closing, args=(handler, conn), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    for listener in listeners:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes its accept
        listener.close()


def _closing(handler: Handler, conn: socket.socket) -> None:
    with conn, contextlib.suppress(OSError):
        handler(conn)


def _get(pool: ConnectionPool, url: str) -> requests.Response:
    return pool.send(requests.Request("GET", url).prepare(), 5, True)


# An informational answer (103 Early Hints) before the real one must not be taken as the
# answer: the pool gave the connection back with the real answer still unread, and the
# next request on it read the previous request's answer as its own.
def test_an_informational_answer_is_skipped_not_taken_for_the_answer(raw):
    def handler(conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with contextlib.suppress(OSError):
            while (target := _read_request(reader)) is not None:
                conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n")
                time.sleep(0.02)  # the final answer comes in its own packet
                body = target.encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    url = raw(handler)
    pool = ConnectionPool()
    try:
        answers = [_get(pool, f"{url}/{name}") for name in ("a", "b", "c")]
    finally:
        pool.close()
    assert [(r.status_code, r.content) for r in answers] == [
        (200, b"/a"),
        (200, b"/b"),
        (200, b"/c"),
    ]


# A 101 (Switching Protocols, never asked for) is no HTTP answer: the exchange fails and
# its connection, where a foreign protocol follows, is never reused.
def test_an_unasked_protocol_switch_fails_and_its_connection_is_dropped(raw):
    def handler(conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with contextlib.suppress(OSError):
            target = _read_request(reader)
            if target == "/switch":
                conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")
                time.sleep(0.02)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale")
                time.sleep(1)
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")

    url = raw(handler)
    pool = ConnectionPool()
    try:
        with pytest.raises(requests.ConnectionError):
            _get(pool, f"{url}/switch")
        assert _get(pool, f"{url}/next").content == b"fresh"
    finally:
        pool.close()
