"""The route table of the local service: what an endpoint receives and how it is found.

An endpoint is a function of one `Request` returning ``(status, answer)``; an answer is
a JSON-able value, ready bytes, or None (an empty body). API modules list their routes
as ``(method, path regex, endpoint)`` and the server registers them under their roots
with `Router.add`, so another API (e.g. a Catalog) plugs in without touching the HTTP
code.

Examples
--------
>>> router = Router()
>>> router.add(["/api/v1/byoc"], [("GET", r"/collections/(?P<cid>[^/]+)", lambda r: (200, {}))])
>>> route, params = router.match("GET", "/api/v1/byoc/collections/abc")
>>> params
{'cid': 'abc'}
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from byocframe.emulator.ingest import Ingestor
from byocframe.emulator.problems import ApiProblem
from byocframe.emulator.render import page_body
from byocframe.emulator.store import Store

__all__ = ["Endpoint", "Request", "Route", "Router"]


@dataclass
class Request:
    """One authenticated API request, as an endpoint sees it.

    Attributes
    ----------
    store, ingestor
        The service's state and its ingestion.
    method : str
    path : str
        The URL path, as sent.
    host : str
        ``host:port`` the client addressed (for links).
    params : dict
        Named groups of the route's pattern (``cid``, ``tid``, ...).
    query : dict
        The query string, last value of each name.
    body : dict or None
        The parsed JSON body of a POST or PUT.
    """

    store: Store
    ingestor: Ingestor
    method: str
    path: str
    host: str
    params: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any] | None

    def self_url(self, **changes: Any) -> str:
        """The request's URL with some query parameters changed."""
        params = {**self.query, **changes}
        return f"http://{self.host}{self.path}?{urllib.parse.urlencode(params)}"

    def view_token(self) -> str | None:
        """The ``viewtoken`` query parameter (``viewToken`` is accepted too)."""
        if "viewToken" in self.query and "viewtoken" not in self.query:
            self.query["viewtoken"] = self.query.pop("viewToken")
        return self.query.get("viewtoken") or None

    def page(self, items: list[str], next_token: str | None, count: int) -> bytes:
        """A list answer with ``links`` (``nextToken`` and ``next`` only when more follow)."""
        links: dict[str, str] = {
            "currentToken": self.query.get("viewtoken", ""),
            "@id": self.self_url(count=count),
        }
        if next_token:
            links["nextToken"] = next_token
            links["next"] = self.self_url(viewtoken=next_token, count=count)
        if self.query.get("viewtoken"):
            links["previousToken"] = ""  # keyset pages do not walk backwards
        return page_body(items, links)


#: An endpoint: ``endpoint(request) -> (status, answer)``.
Endpoint = Callable[[Request], tuple[int, Any]]


@dataclass(frozen=True)
class Route:
    """A method and a full-path pattern served by an endpoint.

    ``faulty`` routes get the injected faults and the rate limit; admin routes do not.
    """

    method: str
    pattern: re.Pattern[str]
    endpoint: Endpoint
    faulty: bool = True


class Router:
    """An ordered table of routes."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self,
        roots: Sequence[str],
        routes: Sequence[tuple[str, str, Endpoint]],
        *,
        faulty: bool = True,
    ) -> None:
        """Serve ``(method, path regex, endpoint)`` routes under each of ``roots``."""
        for root in roots:
            for method, pattern, endpoint in routes:
                compiled = re.compile(re.escape(root) + pattern)
                self.routes.append(Route(method, compiled, endpoint, faulty))

    def knows(self, path: str) -> bool:
        """Whether any route serves ``path`` (with any method)."""
        return any(route.pattern.fullmatch(path) for route in self.routes)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for ``method path`` and its parameters.

        Raises
        ------
        ApiProblem
            404 when no route serves the path, 405 when none serves it with ``method``.
        """
        allowed = False
        for route in self.routes:
            found = route.pattern.fullmatch(path)
            if found:
                if route.method == method:
                    return route, found.groupdict()
                allowed = True
        if allowed:
            raise ApiProblem(405, "COMMON_METHOD_NOT_ALLOWED", f"{method} is not allowed here.")
        raise ApiProblem(404, "COMMON_NOT_FOUND", f"No such endpoint: {path[:200]}")
