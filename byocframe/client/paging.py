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

__all__ = ["MAX_PAGES", "Pages"]

#: Pages one listing or search follows at most (100 items a page: 10 million items).
#: Raise it (``byocframe.client.paging.MAX_PAGES = ...``) for a larger collection.
MAX_PAGES = 100_000


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
        self.count = 1
        self._seen: set[bytes] = set()

    def follow(self, token: object) -> None:
        """Record that the listing goes on with ``token``, or raise (nothing sent).

        Raises
        ------
        TransportError
            When the token was sent before, is not a text or a number, or the listing
            would pass `MAX_PAGES`.
        """
        method, _, url = self.what.partition(" ")
        if isinstance(token, bool) or not isinstance(token, str | int | float):
            raise TransportError(
                f"{self.what}: the next token is a {type(token).__name__}, not a text",
                method=method,
                url=url,
            )
        # a digest, not the token: a service may send a fresh megabyte-long one each page
        key = hashlib.sha256(repr(token).encode("utf-8", "surrogatepass")).digest()
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
