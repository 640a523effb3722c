"""The Catalog routes check the token before they read a body or invite one."""

from __future__ import annotations

import socket

import pytest

import byocframe
from byocframe.io.catalog import CATALOG_PATH


@pytest.fixture(scope="module")
def service():
    with byocframe.local_service(demo=True, demo_tiles=20) as running:
        yield running


def _first_line(service, headers: str) -> bytes:
    host, port = service.base_url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(headers.encode())
        sock.settimeout(5)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n", 1)[0]


def test_an_anonymous_search_gets_401_without_100_continue(service):
    """Today: 100 Continue, then the service reads 15 MiB before it looks at the token."""
    line = _first_line(
        service,
        f"POST {CATALOG_PATH}/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {15 * 2**20}\r\nExpect: 100-continue\r\n\r\n",
    )
    assert line.startswith(b"HTTP/1.1 401"), line


def test_an_anonymous_search_without_expect_is_answered_before_its_body(service):
    """The body is never sent here: an answer proves it was not waited for."""
    line = _first_line(
        service,
        f"POST {CATALOG_PATH}/search HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
    )
    assert line.startswith(b"HTTP/1.1 401"), line


def test_an_authorised_search_still_reads_its_body(service):
    client = service.client()
    gdf = byocframe.read_tiles(client, service.demo_collection, bbox=[-180, -90, 180, 90])
    assert len(gdf) > 0
