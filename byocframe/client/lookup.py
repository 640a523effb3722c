"""Which deployment holds a collection: the global lookup, and 404s that say where to go.

Sentinel Hub's deployments share a global lookup
(``GET https://services.sentinel-hub.com/api/v1/byoc/global/{id}``). `GlobalLookup` adds
it to the session: `GlobalLookup.locate` asks it, `GlobalLookup.at` gives a client for the
deployment that holds a collection, and a 404 for a collection that lives elsewhere names
that deployment. `byocframe.client.endpoints.ByocEndpoints` builds on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Self

from byocframe.client.deployments import find_deployment
from byocframe.client.session import ApiSession
from byocframe.exceptions import APIError, NotFoundError, TransportError
from byocframe.ids import CollectionLike, path_of, resource_id

__all__ = ["GlobalLookup"]


class GlobalLookup(ApiSession):
    """A session that knows which deployment holds a collection (the base of `Client`).

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service() as service:
    ...     service.client().location is None  # the local service is in no global lookup
    True
    """

    @property
    def location(self) -> str | None:
        """The deployment's name in the global lookup (``aws-eu-central-1``, ...)."""
        return self.deployment.location if self.deployment else None

    def at(self, collection: CollectionLike) -> Self:
        """A client for the deployment that holds ``collection`` (``self`` if it is here).

        Uses the global lookup (`locate`); the new client has the same credentials,
        token URL and options.
        """
        location = self.locate(collection)
        if location == self.location:
            return self
        target = find_deployment(location=location)
        if target is None:
            raise ValueError(
                f"the collection is on {location!r}, a deployment byocframe does not know"
            )
        return self._moved(target.base_url)

    def locate(self, collection: CollectionLike) -> str:
        """Which deployment holds ``collection``: its location, e.g. ``"aws-us-west-2"``.

        Asks the global lookup ``GET https://services.sentinel-hub.com/api/v1/byoc/global/{id}``
        (Sentinel Hub deployments only).
        """
        cid = resource_id(collection, "collection")
        if self._lookup_url is None:
            raise ValueError(
                f"{self.base_url} has no global collection lookup (only the Sentinel Hub "
                "deployments share one)"
            )
        url = self._lookup_url + path_of(cid)
        body = self.request("GET", url)
        data = body.get("data") if isinstance(body, dict) else None
        location = data.get("location") if isinstance(data, dict) else None
        if not isinstance(location, str) or not location:
            raise TransportError(
                f"GET {url}: the answer has no data.location", method="GET", url=url
            )
        return location

    def _explained(
        self, pages: Iterator[list[dict[str, Any]]], cid: str
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages; a 404 says which deployment holds the collection when it is elsewhere."""
        try:
            yield from pages
        except NotFoundError as err:
            elsewhere = self._elsewhere(err, cid)
            if elsewhere is err:
                raise  # not "raise err from err": notebooks print a self-caused error twice
            raise elsewhere from err

    def _elsewhere(self, err: NotFoundError, cid: str) -> NotFoundError:
        if self._lookup_url is None:
            return err
        try:
            location = self.locate(cid)
        except (APIError, TransportError):
            return err
        if location == self.location:
            return err
        target = find_deployment(location=location)
        where = f"Client(deployment={location!r})" if target else f"the {location} deployment"
        hint = (
            f"collection {cid} is on {location}, not on {self.base_url}: use {where} "
            "or client.at(collection)"
        )
        return NotFoundError(
            err.status_code,
            f"{err.message}; {hint}",
            method=err.method,
            url=err.url,
            code=err.code,
            errors=err.errors,
        )
