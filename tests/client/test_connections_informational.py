"""Informational (1xx) answers to the HTTP path (`byocframe.HTTPTransport`), from raw
loopback servers."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from byocframe import Answer, HTTPTransport, TransportError
from byocframe.client.transport import Request

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


def _get(transport: HTTPTransport, url: str) -> Answer:
    return transport.send(Request("GET", url), timeout=5)


# An informational answer (103 Early Hints) before the real one must not be taken as the
# answer: the connection went back to the pool with the real answer still unread, and the
# next request on it read the previous request's answer as its own.
def test_an_informational_answer_is_skipped_not_taken_for_the_answer(raw):
    def handler(conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with contextlib.suppress(OSError):
            while (target := _read_request(reader)) is not None:
                conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n")
                time.sleep(0.02)  # the peer's behaviour: the final answer in its own packet
                body = target.encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    url = raw(handler)
    transport = HTTPTransport()
    try:
        answers = [_get(transport, f"{url}/{name}") for name in ("a", "b", "c")]
    finally:
        transport.close()
    assert [(r.status, r.body) for r in answers] == [
        (200, b"/a"),
        (200, b"/b"),
        (200, b"/c"),
    ]


# A 101 (Switching Protocols, never asked for) is no HTTP answer: the exchange fails and
# its connection, where a foreign protocol follows, is never reused.
def test_an_unasked_protocol_switch_fails_and_its_connection_is_dropped(raw):
    done = threading.Event()

    def handler(conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with contextlib.suppress(OSError):
            target = _read_request(reader)
            if target == "/switch":
                conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")
                time.sleep(0.02)  # the peer's behaviour: the stale answer in its own packet
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale")
                done.wait(10)  # open until the test ends: a reuse would read "stale"
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")

    url = raw(handler)
    transport = HTTPTransport()
    try:
        with pytest.raises(TransportError, match="unexpected informational answer 101"):
            _get(transport, f"{url}/switch")
        assert _get(transport, f"{url}/next").body == b"fresh"
    finally:
        done.set()
        transport.close()
