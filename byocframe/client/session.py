"""The HTTP session under `~byocframe.Client`: one deployment, one token, safe requests.

It holds what every request needs (URL checks, the token, retries, the 429 pause, the
pace, the deadline) and decodes answers; `~byocframe.Client` adds the BYOC endpoints.
"""

from __future__ import annotations

import http.client
import logging
import math
import random
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from json import dumps
from typing import Any, Self, cast

import urllib3

from byocframe.client.auth import TokenSource
from byocframe.client.config import SHConfigLike, check_base_url, settings_from_sh_config
from byocframe.client.connections import ACCEPT_ENCODING, Watch
from byocframe.client.deployments import (
    SENTINEL_HUB_TOKEN_URL,
    Deployment,
    default_token_url,
    find_deployment,
    get_deployment,
)
from byocframe.client.pacing import Clock, Pacer, Sleep, Throttle
from byocframe.client.paging import Pages
from byocframe.client.responses import JSON, decode, error_from, redirect_note, retry_after
from byocframe.client.transport import Answer, HTTPTransport, Request, Transport, check_url, origin
from byocframe.exceptions import StaleCheckError, TransportError, ValidationError
from byocframe.ids import check_id

__all__ = ["DEFAULT_BASE_URL", "ApiSession"]

log = logging.getLogger("byocframe.client.api")

DEFAULT_BASE_URL = "https://services.sentinel-hub.com"
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# what a transport of the user's may raise besides TransportError: no usable answer too
_FAILED = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)
_HEADERS = {
    "User-Agent": "byocframe",
    "Accept": "application/json",
    "Accept-Encoding": ACCEPT_ENCODING,
}


class ApiSession:
    """Requests to one deployment's BYOC API; see `~byocframe.Client` for the parameters."""

    def __init__(
        self,
        *args: object,
        config: SHConfigLike | None = None,
        base_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_url: str | None = None,
        deployment: str | None = None,
        timeout: float | None = None,
        deadline: float = 120.0,
        retries: int | None = None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        rate_limit_retries: int = 50,
        max_wait: float = 300.0,
        max_total_wait: float = 900.0,
        requests_per_minute: float | None = None,
        pool_size: int = 32,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        transport: Transport | None = None,
    ):
        if args:
            raise TypeError(
                f"{type(self).__name__} takes keywords only: e.g. "
                f"{type(self).__name__}(base_url={args[0]!r}, client_id=..., "
                "client_secret=...), or Client.from_env()"
            )
        if config is not None:  # as SentinelHubBYOC(config=config): explicit values win
            settings, defaults = settings_from_sh_config(
                config,
                base_url=base_url,
                client_id=client_id,
                client_secret=client_secret,
                token_url=token_url,
            )
            base_url, token_url = settings.base_url, settings.token_url
            client_id, client_secret = settings.client_id, settings.client_secret
            deployment = None  # an SHConfig names its base URL
            timeout = defaults.get("timeout") if timeout is None else timeout
            retries = cast("int | None", defaults.get("retries")) if retries is None else retries
        timeout = 30.0 if timeout is None else timeout
        retries = 4 if retries is None else retries
        if deployment is not None:
            if base_url is not None:
                raise ValueError("give deployment or base_url, not both")
            base_url = get_deployment(deployment).base_url
        check_base_url(base_url, "base_url")  # as SH_BASE_URL is: the API's address is not it
        self.base_url = check_url(base_url or DEFAULT_BASE_URL, "base_url")
        self.deployment: Deployment | None = find_deployment(base_url=self.base_url)
        self.token_url = check_url(token_url or default_token_url(self.base_url), "token_url")
        if not client_id or not client_secret:
            raise ValueError(
                "client_id and client_secret are required (or use Client.from_env() with "
                "SH_CLIENT_ID / SH_CLIENT_SECRET, or Client.from_config())"
            )
        for name, value in (
            ("timeout", timeout),
            ("deadline", deadline),
            ("max_wait", max_wait),
            ("max_total_wait", max_total_wait),
        ):
            if not 0 < value < math.inf:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        self.client_id = client_id
        self.__secret = client_secret
        self.service_url = self.base_url + "/api/v1/byoc"
        self.timeout = timeout
        self.deadline = deadline
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.rate_limit_retries = rate_limit_retries
        self.max_wait = max_wait
        self.max_total_wait = max_total_wait
        self._options: dict[str, Any] = {
            "timeout": timeout,
            "deadline": deadline,
            "retries": retries,
            "backoff": backoff,
            "max_backoff": max_backoff,
            "rate_limit_retries": rate_limit_retries,
            "max_wait": max_wait,
            "max_total_wait": max_total_wait,
            "requests_per_minute": requests_per_minute,
            "pool_size": pool_size,
            "clock": clock,
            "sleep": sleep,
            "transport": transport,
        }
        self._clock = clock
        self._sleep = sleep
        self._pacer = Pacer(requests_per_minute, clock=clock, sleep=sleep)
        self._throttle = Throttle(clock=clock, sleep=sleep)
        # the bearer token goes to these origins only; the global lookup shares the
        # Sentinel Hub identity service, so it gets the token too
        lookup = self.deployment.lookup_url if self.deployment else None
        self._lookup_url = lookup if self.token_url == SENTINEL_HUB_TOKEN_URL else None
        self._origins = {origin(self.base_url)}
        if self._lookup_url:
            self._origins.add(origin(self._lookup_url))
        self._transport: Transport = transport or HTTPTransport(pool_size=pool_size)
        self._auth = TokenSource(
            client_id=client_id,
            client_secret=client_secret,
            token_url=self.token_url,
            send=self._send,
            attempts=retries + 1,
            backoff=self._sleep_backoff,
            clock=clock,
        )
        self._rng = random.Random()
        self._closed = False

    def __repr__(self) -> str:
        shown = self.client_id[:4] + "…" if len(self.client_id) > 4 else "…"
        return f"Client(base_url={self.base_url!r}, client_id={shown!r})"

    def __getstate__(self) -> None:
        raise TypeError("a Client holds credentials and cannot be pickled")

    def __enter__(self) -> ApiSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections; the client cannot be used afterwards."""
        self._closed = True
        self._transport.close()

    @property
    def clock(self) -> Clock:
        """The monotonic clock this client was given (seconds); pushes time their reads by it."""
        return self._clock

    @property
    def sleep(self) -> Sleep:
        """The sleep this client was given; every wait of the client and of a push uses it."""
        return self._sleep

    def reserve_turns(self, turns: int) -> list[float | None]:
        """Wait for this client's next pacing turn and keep ``turns`` turns in a row.

        Returns their times (the client's ``clock``; the first is now) to pass as
        ``at=`` to the requests: no other request of this client goes between them.
        Without a pace, returns Nones (send at once).
        """
        if self._pacer.per_minute is None:
            return [None] * turns
        later = self._pacer.wait(turns)
        return [self._clock(), *later]

    @property
    def requests_per_minute(self) -> float | None:
        """The pace of this client's requests (all threads), or None when unpaced.

        Settable, e.g. to a plan's limit before a push (``client.requests_per_minute =
        300``); requests already waiting keep the old pace.
        """
        return self._pacer.per_minute

    @requests_per_minute.setter
    def requests_per_minute(self, value: float | None) -> None:
        self._pacer = Pacer(value, clock=self._clock, sleep=self._sleep)
        self._options["requests_per_minute"] = value

    # ------------------------------------------------------------------ plumbing
    def _moved(self, base_url: str) -> Self:
        """The same credentials, token URL and options on another base URL."""
        return type(self)(
            base_url=base_url,
            client_id=self.client_id,
            client_secret=self.__secret,
            token_url=self.token_url,
            **self._options,
        )

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: JSON = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One exchange within the deadline; never follows redirects.

        ``json`` is sent as a JSON body, ``data`` as a form (the token request).
        """
        if self._closed:
            raise ValueError("this Client is closed")
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params, doseq=True)
        head = {**_HEADERS, **(headers or {})}
        body = None
        if json is not None:
            try:
                body = dumps(json, allow_nan=False, separators=(",", ":")).encode()
            except ValueError as err:  # nothing was sent
                raise ValidationError(
                    f"{method} {url}: the body cannot be sent as JSON ({err}); replace NaN "
                    "and infinite numbers"
                ) from err
            head["Content-Type"] = "application/json"
        elif data is not None:
            body = urllib.parse.urlencode(data).encode()
            head["Content-Type"] = "application/x-www-form-urlencoded"
        request = Request(method, url, head, body)
        failure: BaseException | None = None
        with Watch.deadline(self.deadline) as watch:
            try:
                answer = self._transport.send(request, timeout=self.timeout)
            except (TransportError, *_FAILED) as err:
                failure = err
        # a cut socket can also look like a short but complete answer: check the watch
        if failure is None and not watch.expired:
            return answer
        if watch.expired:
            reason = f"no complete answer within the deadline of {self.deadline:g} s"
            kind = TransportError
        elif isinstance(failure, TransportError):
            reason, kind = str(failure), type(failure)
        else:
            reason, kind = f"no usable answer ({type(failure).__name__})", TransportError
        raise kind(f"{method} {url}: {reason}", method=method, url=url) from failure

    def _sleep_backoff(self, attempt: int) -> None:
        wait = min(self.max_backoff, self.backoff * 2**attempt)
        self._sleep(wait * (0.5 + self._rng.random() / 2))

    def _url(self, path: str) -> str:
        if not path.startswith(("http://", "https://")):
            return self.service_url + path
        if origin(path) not in self._origins:
            raise ValueError(
                f"{path!r} is not on {self.base_url}; the access token is sent to that origin only"
            )
        return path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: JSON = None,
        retry: bool | None = None,
        at: float | None = None,
        fresh_until: float | None = None,
    ) -> JSON:
        """Send one API request; return the decoded JSON body (None for an empty answer).

        Parameters
        ----------
        method : str
        path : str
            Relative to ``/api/v1/byoc`` (``"/collections"``), or a full URL on the
            base URL's origin.
        params, json : optional
            Query parameters and JSON body.
        retry : bool, optional
            Retry 5xx answers and connection errors; defaults to True for idempotent
            methods (GET, PUT, DELETE) and False for POST.
        at : float, optional
            A pacing turn from `reserve_turns` (the client's ``clock``): the first attempt
            is sent then instead of queueing for a turn.
        fresh_until : float, optional
            Do not send any attempt after this time (the client's ``clock``): raise
            `StaleCheckError` instead, e.g. for a write whose check would be too old.

        Raises
        ------
        APIError
            A subclass per status (`NotFoundError`, `ConflictError`, ...); also for a
            redirect, which is never followed.
        RateLimitError
            Too many 429s, or one asking to wait longer than ``max_wait``.
        TransportError
            No usable answer after the retries, or an answer that is not JSON.
        """
        method = method.upper()
        url = self._url(path)
        retry = method in _IDEMPOTENT if retry is None else retry
        attempt = throttles = sent = 0
        waited = 0.0  # seconds of 429 pauses for this request
        renewed = False
        while True:
            self._throttle.wait()
            if at is not None and not sent:
                self._pacer.wait_until(at)
            else:
                self._pacer.wait()
            if fresh_until is not None and self._clock() > fresh_until:
                raise StaleCheckError(
                    f"{method} {url}: held back past its check (pacing, a 429 pause or a "
                    "retry); not sent",
                    sent=sent > 0,
                )
            sent += 1
            headers = {"Authorization": f"Bearer {self._auth.bearer()}"}
            try:
                response = self._send(method, url, params=params, json=json, headers=headers)
            except TransportError as err:
                if retry and attempt < self.retries:
                    self._sleep_backoff(attempt)
                    attempt += 1
                    continue
                if not retry:
                    raise TransportError(
                        f"{err}; not retried because the request may have taken effect",
                        method=method,
                        url=url,
                    ) from err
                raise
            status = response.status
            log.debug("%s %s -> %s", method, response.url, status)
            if status == 429:
                throttles += 1
                wait = retry_after(response)
                if wait is not None and wait > self.max_wait:
                    raise error_from(
                        response,
                        method,
                        retry_after=wait,
                        note=f"asked to wait {wait:.0f} s, more than max_wait={self.max_wait:g} "
                        "s; try later or raise max_wait",
                    )
                if throttles > self.rate_limit_retries:
                    raise error_from(response, method, retry_after=wait)
                jitter = 1 + self._rng.random() / 10
                pause = min(self.max_wait, (1.0 if wait is None else wait) * jitter)
                if waited + pause > self.max_total_wait:
                    raise error_from(
                        response,
                        method,
                        retry_after=wait,
                        note=f"429s would make this request wait {waited + pause:.0f} s in "
                        f"all, more than max_total_wait={self.max_total_wait:g} s; try later "
                        "or raise max_total_wait",
                    )
                waited += pause
                self._throttle.pause(pause)
                continue
            if status == 401 and not renewed:
                renewed = True  # e.g. the token was revoked: try once with a new one
                self._auth.bearer(renew=True)
                continue
            if status >= 500 and retry and attempt < self.retries:
                self._sleep_backoff(attempt)
                attempt += 1
                continue
            if status >= 300:
                note = redirect_note(response) if status < 400 else None
                raise error_from(response, method, note=note)
            return decode(response, method, url)

    def _data(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body = self.request(method, path, **kwargs)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            url = self._url(path)
            raise TransportError(
                f"{method} {url}: the answer has no 'data' object", method=method, url=url
            )
        return data

    def _pages(
        self, path: str, params: dict[str, str | None], *, bad_ids: str = "raise"
    ) -> Iterator[list[dict[str, Any]]]:
        """The ``data`` lists of a listing's pages, following ``nextToken``.

        An item without a usable id is a `TransportError`, or with ``bad_ids="keep"``
        passed on as it is (for a loader that reports it and never puts it in a URL).
        """
        query: dict[str, str | int] = {k: v for k, v in params.items() if v is not None}
        query.setdefault("count", 100)
        url = self._url(path)
        pages = Pages(f"GET {url}")
        while True:
            body = self.request("GET", path, params=query)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise TransportError(
                    f"GET {url}: the answer has no 'data' list", method="GET", url=url
                )
            for item in data:
                if bad_ids == "keep" and isinstance(item, dict):
                    continue
                try:  # ids go into later URLs: a server cannot slip in a path
                    check_id(item.get("id") if isinstance(item, dict) else None, "listed")
                except ValidationError as err:
                    raise TransportError(
                        f"GET {url}: an item of the page has no usable id ({str(item)[:60]})",
                        method="GET",
                        url=url,
                    ) from err
            yield data
            links = body.get("links") if isinstance(body, dict) else None
            token = links.get("nextToken") if isinstance(links, dict) else None
            if not token:
                return
            # an empty page with a next token is not the end: the server says "go on
            # from here" (stopping would leave the rest unseen, the frame "whole");
            # a token that repeats or never ends is bounded by Pages
            if not isinstance(token, str):
                raise TransportError(
                    f"GET {url}: the nextToken is not a text", method="GET", url=url
                )
            pages.follow(token, items=len(data))
            query = {**query, "viewtoken": token}
