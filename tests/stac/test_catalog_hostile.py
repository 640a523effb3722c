"""A broken or hostile Catalog cannot hang `read_tiles`, crash it, or fill the memory.

The service here is the local one, except for the Catalog's search answers, which a
script writes (`ScriptedSearch`): what byocframe asks the BYOC API is answered for real.
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import byocframe
import byocframe.client.paging
from byocframe import ByocframeWarning, Client, TransportError
from byocframe.client.paging import Pages
from byocframe.stac.catalog import CATALOG_PATH

Page = dict[str, Any]


class ScriptedSearch(Client):
    """A client of the local service whose Catalog searches get scripted answers."""

    script: Callable[[dict[str, Any]], Page]
    searches = 0

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        if url.endswith(CATALOG_PATH + "/search"):
            self.searches += 1
            return self.script(kwargs["json"])
        return super().request(method, url, **kwargs)


@pytest.fixture(scope="module")
def collection() -> Iterator[tuple[Any, str, list[str]]]:
    """A local service with one collection of three tiles."""
    with byocframe.local_service(demo=True, demo_tiles=3) as service:
        ids = [t["id"] for t in service.client().iter_tiles(service.demo_collection)]
        yield service, service.demo_collection, ids


def _client(service: Any, script: Callable[[dict[str, Any]], Page]) -> ScriptedSearch:
    client = ScriptedSearch(
        base_url=service.base_url,
        client_id=service.client_id,
        client_secret=service.client_secret,
        token_url=service.token_url,
    )
    client.script = script
    return client


#: A box inside the searches' bbox: each item's answer to a search by area must say where
#: it is (finding 270: an item outside the area searched is refused)
_BOX = [-1.0, -1.0, 1.0, 1.0]


def _page(features: list[Any], following: Any = None) -> Page:
    page: Page = {"type": "FeatureCollection", "features": features}
    if following is not None:
        page["context"] = {"next": following}
    return page


def test_a_catalog_sending_fresh_next_tokens_forever_stops_read_tiles(collection, monkeypatch):
    """Today (before paging.MAX_PAGES): read_tiles(client, cid, bbox=...) never returned."""
    service, cid, ids = collection
    monkeypatch.setattr(byocframe.client.paging, "MAX_PAGES", 7)
    fresh = itertools.count(100)
    client = _client(service, lambda body: _page([{"id": ids[0], "bbox": _BOX}], next(fresh)))
    with pytest.raises(
        TransportError, match=r"after 7 pages \(byocframe.client.paging.MAX_PAGES\)"
    ):
        byocframe.read_tiles(client, cid, bbox=[-180, -90, 180, 90], progress=False)
    assert client.searches == 7


def test_a_catalog_repeating_next_100_stops_read_tiles(collection):
    service, cid, ids = collection
    client = _client(service, lambda body: _page([{"id": ids[0], "bbox": _BOX}], 100))
    with pytest.raises(TransportError, match="next token '100' again"):
        byocframe.read_tiles(client, cid, bbox=[-180, -90, 180, 90], progress=False)
    assert client.searches == 2


@pytest.mark.parametrize("context", ["x", [1], 5], ids=["text", "list", "number"])
def test_a_context_that_is_not_an_object_is_a_transport_error(collection, context):
    """Today: AttributeError ('str' object has no attribute 'get')."""
    service, cid, ids = collection
    client = _client(
        service, lambda body: {"features": [{"id": ids[0], "bbox": _BOX}], "context": context}
    )
    with pytest.raises(TransportError, match=r"context is a \w+, not an object"):
        byocframe.read_tiles(client, cid, bbox=[-180, -90, 180, 90], progress=False)


def test_items_without_a_usable_id_are_one_warning(collection):
    """Items without an id (or with a path for an id) are reported, never a KeyError or a URL."""
    service, cid, ids = collection
    items = [
        {"type": "Feature"},
        "text",
        None,
        {"id": 5},
        {"id": "a/tiles/b"},
        {"id": ids[1], "bbox": _BOX},
    ]
    client = _client(service, lambda body: _page(items))
    with pytest.warns(ByocframeWarning, match="5 tiles have values") as record:
        gdf = byocframe.read_tiles(client, cid, bbox=[-180, -90, 180, 90], progress=False)
    assert len(record) == 1
    assert ids[1] in gdf.index
    assert gdf.index.notna().sum() == 1  # the one real tile, read from the BYOC API


def test_pages_keep_a_digest_of_each_token_not_the_token(monkeypatch):
    """A service sending a fresh 1 MB next token each page cannot fill the memory (with
    MAX_TOKEN_CHARS raised for it: by default such a token is refused, finding 161)."""
    monkeypatch.setattr(byocframe.client.paging, "MAX_TOKEN_CHARS", 2_000_000)
    pages = Pages("POST https://example.com/search")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for k in range(100):
            pages.follow(f"{k:08d}" + "x" * 1_000_000)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1_000_000  # 100 MB if the tokens were kept
    with pytest.raises(TransportError, match="again"):
        pages.follow(f"{5:08d}" + "x" * 1_000_000)


def test_an_empty_page_with_a_next_offset_does_not_end_the_search(collection):
    """An empty page that still says where to go on is not the end (it ended the search)."""
    service, cid, ids = collection
    answers = iter(
        [_page([], 100), _page([{"id": ids[0], "bbox": _BOX}, {"id": ids[2], "bbox": _BOX}])]
    )
    client = _client(service, lambda body: next(answers))
    gdf = byocframe.read_tiles(client, cid, bbox=[-180, -90, 180, 90], progress=False)
    assert sorted(gdf.index) == sorted([ids[0], ids[2]])
    assert client.searches == 2


def test_a_catalog_search_counts_its_items_against_max_items(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The search passes each page's items to the listing bound, as the tile listing does."""
    from byocframe.client import paging
    from byocframe.stac.catalog import iter_items

    monkeypatch.setattr(paging, "MAX_ITEMS", 150)
    with byocframe.local_service(demo=True, demo_tiles=300) as service:
        pages = iter_items(service.client(), service.demo_collection, bbox=[-180, -90, 180, 90])
        with pytest.raises(byocframe.TransportError, match=r"paging\.MAX_ITEMS"):
            list(pages)
