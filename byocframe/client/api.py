"""A small, careful HTTP client for the Sentinel Hub BYOC API.

One keep-alive `~byocframe.client.transport.HTTPTransport` on urllib3 (or any
`~byocframe.client.transport.Transport`, e.g. `byocframe.testing.MockTransport` in tests); a
timeout on every socket operation and a deadline on every whole exchange; an OAuth2
token fetched once and refreshed before it expires;
429 honoured through ``Retry-After`` (milliseconds) for every thread at once, up to a
cap; an optional steady pace; 5xx and dropped connections retried with backoff and
jitter for idempotent requests only. Tokens go only to the base URL's origin, ids are
checked before they reach a URL, and every failure a server can cause is a
`~byocframe.ByocframeError` naming the URL. Secrets and tokens never appear in a
repr, a log line or an error message.

`Client` is built in layers, one module each: the session (`byocframe.client.session`:
the requests, their limits and retries), the global lookup (`byocframe.client.lookup`:
which deployment holds a collection), the endpoints (`byocframe.client.endpoints`:
collections and tiles), and here the ways to make one (`Client.from_env`,
`Client.from_config`, `Client.from_settings`) and `resolve_client`, which takes anything
a public function accepts as a client.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any, cast

from byocframe.client.config import (
    Settings,
    SHConfigLike,
    resolve_settings,
    settings_from_sh_config,
)
from byocframe.client.endpoints import ByocEndpoints
from byocframe.client.session import DEFAULT_BASE_URL
from byocframe.client.transport import is_loopback
from byocframe.exceptions import ValidationError
from byocframe.typing import AnyClient

__all__ = [
    "DEFAULT_BASE_URL",
    "Client",
    "is_loopback",  # where the emulator imports it from
    "resolve_client",
]


class Client(ByocEndpoints):
    """Talk to the BYOC API of one Sentinel Hub deployment.

    Every argument is a keyword. Credentials: give ``client_id`` and ``client_secret``,
    or ``config`` (a sentinelhub-py ``SHConfig``, as ``SentinelHubBYOC(config=config)``
    takes it), or use `Client.from_env` / `Client.from_config`.

    Parameters
    ----------
    config : sentinelhub.SHConfig, optional
        Its credentials, URLs, timeout and attempts, as `Client.from_config` takes them;
        other keywords win over it.
    base_url : str, optional
        The deployment, e.g. ``https://services.sentinel-hub.com`` (the default) or
        ``https://sh.dataspace.copernicus.eu``; the API lives under ``/api/v1/byoc``.
        Plain ``http://`` is accepted only for this machine (the local service).
    client_id, client_secret : str
        OAuth2 client credentials.
    token_url : str, optional
        Defaults to the deployment's own (`byocframe.client.deployments.default_token_url`):
        Sentinel Hub deployments authenticate at services.sentinel-hub.com, CDSE at
        identity.dataspace.copernicus.eu, the local service at itself.
    deployment : str, optional
        A deployment by name instead of ``base_url``: ``"aws-eu-central-1"`` (alias
        ``"sentinel-hub"``), ``"aws-us-west-2"``, ``"gcp-us-central1"``,
        ``"creodias"``, ``"code-de"``, ``"mundi"``, ``"cdse"``.
    timeout : float, default 30
        Seconds for each socket operation (connect, each read) and for a free pooled
        connection: a peer that drips a byte a second never trips it. The bound on a
        whole exchange is ``deadline``.
    deadline : float, default 120
        Seconds one whole exchange (connect to last byte) may take, however slowly the
        server drips. Each retry gets a new deadline.
    retries : int, default 4
        Extra attempts for 5xx answers and connection errors (idempotent requests only).
    backoff, max_backoff : float, default 0.5 and 30
        First retry wait in seconds, doubled each time with jitter, up to ``max_backoff``.
    rate_limit_retries : int, default 50
        How many 429 answers one request may get before `RateLimitError`.
    max_wait : float, default 300
        The longest ``Retry-After`` (seconds) the client waits; a longer one raises
        `RateLimitError` at once.
    max_total_wait : float, default 900
        The most seconds one request may spend in 429 pauses in all (50 answers of
        ``Retry-After: 299999`` ms would otherwise hold it 4 hours); past it,
        `RateLimitError` naming the limit.
    requests_per_minute : float, optional
        Pace every request of this client (all threads) to this rate instead of
        waiting for 429s. None: as fast as callers ask.
    pool_size : int, default 32
        Most connections open at once to one host, kept alive between requests (as
        many as the threads that share the client). A request finding them all busy
        waits for one, up to ``timeout``.
    clock, sleep : callable, optional
        Monotonic seconds and a sleep function (``time.monotonic``, ``time.sleep``),
        for token expiry, backoff, 429 waits and pacing. Tests pass fakes.
    transport : Transport, optional
        What sends every request (`~byocframe.client.transport.Transport`): by default an
        `~byocframe.HTTPTransport` on urllib3 with ``pool_size`` connections, proxies
        from the environment and certifi's CA bundle. Give your own
        ``HTTPTransport(ca_bundle=..., client_cert=..., proxies=...)`` for those, or a
        `byocframe.MockTransport` in tests.

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service() as service, byocframe.Client(
    ...     base_url=service.base_url,
    ...     client_id=service.client_id,
    ...     client_secret=service.client_secret,
    ... ) as client:
    ...     collection = client.create_collection({"name": "demo", "s3Bucket": "bucket"})
    ...     client.get_collection(collection["id"])["name"]
    'demo'
    """

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_env(cls, **kwargs: Any) -> Client:
        """Read ``SH_CLIENT_ID``, ``SH_CLIENT_SECRET``, ``SH_BASE_URL``, ``SH_TOKEN_URL``.

        Keyword arguments win over the variables (``client_id``, ``base_url``, ...,
        and every option of `Client`).

        Examples
        --------
        >>> import os
        >>> os.environ.update(SH_CLIENT_ID="id", SH_CLIENT_SECRET="secret")
        >>> Client.from_env()
        Client(base_url='https://services.sentinel-hub.com', client_id='…')
        >>> for name in ("SH_CLIENT_ID", "SH_CLIENT_SECRET"):
        ...     del os.environ[name]
        """
        fields, options = _split(kwargs)
        settings = resolve_settings(**fields, use_file=False)
        missing = [n for n in ("client_id", "client_secret") if n not in settings.sources]
        if missing:
            names = " and ".join(f"SH_{n.upper()}" for n in missing)
            raise ValidationError(
                f"set {names} (your Sentinel Hub OAuth client); for the local service, "
                "use byocframe.local_service().client()"
            )
        return cls.from_settings(settings, **options)

    @classmethod
    def from_config(
        cls,
        config: SHConfigLike | None = None,
        *,
        profile: str | None = None,
        path: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> Client:
        """Use a sentinelhub-py ``SHConfig``, or resolve settings as sentinelhub-py does.

        Without ``config``, each of the id, secret, base URL and token URL comes from
        the first of: keyword arguments; ``SH_CLIENT_ID``, ``SH_CLIENT_SECRET``,
        ``SH_BASE_URL``, ``SH_TOKEN_URL``; the profile of sentinelhub-py's
        ``config.toml`` (``profile``, else ``$SH_PROFILE``, else ``default-profile``).
        The file is only read, never written (``SHConfig()`` itself creates it).

        Parameters
        ----------
        config : sentinelhub.SHConfig, optional
            Its credentials, URLs, timeout and attempts are used as they are.
        profile : str, optional
        path : path, optional
            Defaults to ``$XDG_CONFIG_HOME/sentinelhub/config.toml`` (or ``~/.config/...``).
        **kwargs
            ``client_id``, ``client_secret``, ``base_url``, ``token_url``,
            ``deployment``, and any option of `Client`.
        """
        fields, options = _split(kwargs)
        if config is not None:
            fields.pop("deployment", None)  # an SHConfig names its base URL
            settings, defaults = settings_from_sh_config(config, **fields)
            return cls.from_settings(settings, **{**defaults, **options})
        return cls.from_settings(resolve_settings(**fields, profile=profile, path=path), **options)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Client:
        """A client from `byocframe.client.config.resolve_settings` (what the command line uses).

        Raises
        ------
        ValueError
            When the settings hold no id or no secret; it says where they were looked for.
        """
        missing = [n for n in ("client_id", "client_secret") if n not in settings.sources]
        if missing:
            raise ValueError(
                f"no {' and no '.join(m.replace('_', ' ') for m in missing)}: pass client_id "
                "and client_secret, set SH_CLIENT_ID and SH_CLIENT_SECRET, or put "
                "sh_client_id and sh_client_secret in a sentinelhub-py config.toml profile"
            )
        return cls(
            base_url=settings.base_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            token_url=settings.token_url,
            **options,
        )


# ---------------------------------------------------------------------- client-likes
_FIELD_NAMES = ("client_id", "client_secret", "base_url", "token_url", "deployment")
_derived: dict[tuple[object, ...], Client] = {}
_derived_lock = threading.Lock()


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    fields = {k: v for k, v in kwargs.items() if k in _FIELD_NAMES}
    return fields, {k: v for k, v in kwargs.items() if k not in _FIELD_NAMES}


def resolve_client(client: AnyClient) -> Client:
    """The `Client` for anything a public function accepts as a client.

    A `Client` (or an object that wraps one) is returned as it is. A sentinelhub-py ``SHConfig`` or
    ``SentinelHubBYOC`` (duck-typed; sentinelhub is not imported) gives a client with
    its settings, made once per settings and kept for the process, as sentinelhub-py
    keeps its sessions, so its token is reused.

    Raises
    ------
    TypeError
        For anything else.

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service() as service:
    ...     client = service.client()
    ...     resolve_client(client) is client
    True
    """
    if isinstance(client, Client):
        return client
    config: Any = getattr(client, "config", client)  # SentinelHubBYOC keeps its SHConfig
    if not hasattr(config, "sh_client_id") and hasattr(client, "tile_pages"):
        return cast(Client, client)  # a wrapper around a Client (tests count requests so)
    if not hasattr(config, "sh_client_id"):
        raise TypeError(
            "expected a byocframe Client, a sentinelhub SHConfig or a SentinelHubBYOC, "
            f"got {type(client).__name__}"
        )
    names = ["sh_client_id", "sh_base_url", "sh_token_url"]
    names += ["download_timeout_seconds", "max_download_attempts"]
    secret = str(getattr(config, "sh_client_secret", ""))
    key = (*(getattr(config, n, None) for n in names), hashlib.sha256(secret.encode()).hexdigest())
    with _derived_lock:
        found = _derived.get(key)
        if found is None or found._closed:
            found = _derived[key] = Client.from_config(config)
        return found
