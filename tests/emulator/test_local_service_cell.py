"""local_service() works in a notebook cell (no ``with``) and in a ``with`` block."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

import byocframe


def refuses_connections(base_url: str) -> bool:
    address = urlsplit(base_url)
    try:
        with socket.create_connection((address.hostname, address.port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def test_without_with_it_is_started_and_stop_stops_it():
    service = byocframe.local_service(demo=True, demo_tiles=30)
    try:
        assert isinstance(service, byocframe.LocalService)  # not a bare context manager
        assert service.running
        tiles = byocframe.read_tiles(service.client(), service.demo_collection)
        assert len(tiles) == 30
    finally:
        service.stop()
    assert not service.running
    assert refuses_connections(service.base_url)
    assert "stopped" in repr(service)
    service.stop()  # a second stop (a re-run cell) does nothing


def test_with_block_still_stops_it_even_on_error():
    seen = []

    def use() -> None:
        with byocframe.local_service() as service:
            seen.append(service)
            assert service.running
            assert list(service.client().iter_collections()) == []
            raise RuntimeError("inside the block")

    with pytest.raises(RuntimeError, match="inside"):
        use()
    (service,) = seen
    assert not service.running
    assert refuses_connections(service.base_url)


def test_a_started_service_can_enter_a_with_block():
    service = byocframe.local_service()
    with service as same:
        assert same is service
        assert service.running
    assert not service.running
