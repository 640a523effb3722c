"""Bounds on following a service's "next page" links: `MAX_PAGES` and repeated tokens.

A listing (``links.nextToken``) or a Catalog search (``context.next``) ends when the
service stops sending a next token. A broken or hostile service can send the same
token again, or a fresh one forever; `Pages` stops both before the next request, with a
`~byocframe.TransportError` naming the limit.

Examples
--------
>>> pages = Pages("GET https://example.com/tiles")
>>> pages.follow("t1")
>>> try:
...     pages.follow("t1")
... except Exception as err:
...     print(str(err).split(": ", 1)[1])
the service sent the next token 't1' again; stopped a paging loop
"""

from __future__ import annotations

import hashlib

from byocframe.exceptions import TransportError

__all__ = ["MAX_ITEMS", "MAX_PAGES", "MAX_TOKEN_CHARS", "Pages"]

#: Pages one listing or search follows at most (100 items a page: 10 million items).
#: Raise it (``byocframe.client.paging.MAX_PAGES = ...``) for a larger collection.
MAX_PAGES = 100_000

#: Items one listing takes at most over all its pages, counted as each page arrives and
#: checked before the next is asked for: the API's pages hold at most 100 items, so a
#: service sending a million a page would otherwise multiply `MAX_PAGES`' bound by
#: 10,000. Raise it (``byocframe.client.paging.MAX_ITEMS = ...``) for a larger collection.
MAX_ITEMS = 10_000_000

#: Longest next token followed, in characters: the token goes back to the service in
#: the next request's URL (or body), so a megabyte-long one would be sent again with
#: every page. Servers refuse request lines past about 8 KiB; raise it
#: (``byocframe.client.paging.MAX_TOKEN_CHARS = ...``) for a service with longer tokens.
MAX_TOKEN_CHARS = 8192


class Pages:
    """The next tokens one listing has followed, and how many.

    Parameters
    ----------
    what : str
        The request, for messages (``"GET <url>"``).
    limit : int, optional
        Pages at most; `MAX_PAGES` when not given (read when the listing starts).
    """

    def __init__(self, what: str, limit: int | None = None):
        self.what = what
        self.limit = MAX_PAGES if limit is None else limit
        self.max_items = MAX_ITEMS
        self.max_token = MAX_TOKEN_CHARS
        self.count = 1
        self.items = 0
        self._seen: set[bytes] = set()

    def follow(self, token: object, items: int = 0) -> None:
        """Record that the listing goes on with ``token``, or raise (nothing sent).

        ``items`` is how many items the page that gave ``token`` held.

        Raises
        ------
        TransportError
            When the token was sent before, is not a text or a number, is longer than
            `MAX_TOKEN_CHARS`, or the listing would pass `MAX_PAGES` pages or has
            passed `MAX_ITEMS` items.
        """
        method, _, url = self.what.partition(" ")
        if isinstance(token, bool) or not isinstance(token, str | int | float):
            raise TransportError(
                f"{self.what}: the next token is a {type(token).__name__}, not a text",
                method=method,
                url=url,
            )
        self.items += items
        if self.items > self.max_items:
            raise TransportError(
                f"{self.what}: stopped after {self.items:,} items in {self.count:,} pages, "
                f"more than byocframe.client.paging.MAX_ITEMS ({self.max_items:,}); raise "
                "it if the collection really holds that many",
                method=method,
                url=url,
            )
        text = repr(token)
        if len(text) > self.max_token + 2:  # repr adds two quotes to a text
            raise TransportError(
                f"{self.what}: the service sent a next token of {len(text) - 2:,} characters, "
                f"more than byocframe.client.paging.MAX_TOKEN_CHARS ({self.max_token:,}); "
                "raise it if the service is trusted",
                method=method,
                url=url,
            )
        # a digest, not the token: a fresh one each page adds 32 bytes, not its length
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
        if key in self._seen:
            raise TransportError(
                f"{self.what}: the service sent the next token {str(token)[:40]!r} again; "
                "stopped a paging loop",
                method=method,
                url=url,
            )
        if self.count >= self.limit:
            raise TransportError(
                f"{self.what}: stopped after {self.limit:,} pages "
                "(byocframe.client.paging.MAX_PAGES); raise it if the collection really "
                "holds that many",
                method=method,
                url=url,
            )
        self._seen.add(key)
        self.count += 1
