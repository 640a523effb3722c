"""The Sentinel Hub deployments byocframe knows, and where each one authenticates.

A collection lives on the one deployment whose storage region holds its bucket;
asking another deployment for it gives 404 (BYOC_API section 1). Sentinel Hub's
deployments share one identity service at services.sentinel-hub.com; the Copernicus
Data Space Ecosystem (CDSE) has its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from byocframe.client.transport import is_loopback, origin

__all__ = [
    "CDSE_TOKEN_URL",
    "DEPLOYMENTS",
    "SENTINEL_HUB_TOKEN_URL",
    "Deployment",
    "default_token_url",
    "find_deployment",
    "get_deployment",
]

SENTINEL_HUB_TOKEN_URL = (
    "https://services.sentinel-hub.com/auth/realms/main/protocol/openid-connect/token"
)
CDSE_TOKEN_URL = (
    "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token"
)
#: The path of the token endpoint on a local service (the sentinelhub-py default path).
LOCAL_TOKEN_PATH = "/auth/realms/main/protocol/openid-connect/token"
_GLOBAL_LOOKUP = "https://services.sentinel-hub.com/api/v1/byoc/global"


@dataclass(frozen=True)
class Deployment:
    """One deployment of the Sentinel Hub API.

    Attributes
    ----------
    name : str
        What ``Client(deployment=...)`` takes.
    base_url : str
        The deployment's ``sh_base_url``; the BYOC API lives under ``/api/v1/byoc``.
    token_url : str
        Its OAuth2 token endpoint.
    location : str or None
        How the global collection lookup names it (``aws-us-west-2``, ...).
    lookup_url : str or None
        Root of the global collection lookup that covers it, if any.
    """

    name: str
    base_url: str
    token_url: str
    location: str | None = None
    lookup_url: str | None = None


DEPLOYMENTS: dict[str, Deployment] = {
    d.name: d
    for d in [
        Deployment(
            "aws-eu-central-1",
            "https://services.sentinel-hub.com",
            SENTINEL_HUB_TOKEN_URL,
            "aws-eu-central-1",
            _GLOBAL_LOOKUP,
        ),
        Deployment(
            "aws-us-west-2",
            "https://services-uswest2.sentinel-hub.com",
            SENTINEL_HUB_TOKEN_URL,
            "aws-us-west-2",
            _GLOBAL_LOOKUP,
        ),
        Deployment(
            "gcp-us-central1",
            "https://services-gcp-us-central1.sentinel-hub.com",
            SENTINEL_HUB_TOKEN_URL,
            "gcp-us-central1",
            _GLOBAL_LOOKUP,
        ),
        Deployment("creodias", "https://creodias.sentinel-hub.com", SENTINEL_HUB_TOKEN_URL),
        Deployment("code-de", "https://code-de.sentinel-hub.com", SENTINEL_HUB_TOKEN_URL),
        Deployment("mundi", "https://shservices.mundiwebservices.com", SENTINEL_HUB_TOKEN_URL),
        Deployment("cdse", "https://sh.dataspace.copernicus.eu", CDSE_TOKEN_URL),
    ]
}
_ALIASES = {"sentinel-hub": "aws-eu-central-1"}


def get_deployment(name: str) -> Deployment:
    """The deployment called ``name`` (or ``"sentinel-hub"``, the default one).

    Examples
    --------
    >>> get_deployment("cdse").token_url
    'https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token'
    """
    key = str(name).strip().lower()  # "CDSE" as the docs of Copernicus spell it
    found = DEPLOYMENTS.get(_ALIASES.get(key, key))
    if found is None:
        raise ValueError(
            f"unknown deployment {name!r}; known: {', '.join(DEPLOYMENTS)} (or give base_url "
            "and token_url)"
        )
    return found


def find_deployment(
    *, base_url: str | None = None, location: str | None = None
) -> Deployment | None:
    """The known deployment at ``base_url`` (same origin) or ``location``, else None.

    Examples
    --------
    >>> find_deployment(base_url="https://creodias.sentinel-hub.com/").name
    'creodias'
    >>> find_deployment(location="aws-us-west-2").base_url
    'https://services-uswest2.sentinel-hub.com'
    """
    for deployment in DEPLOYMENTS.values():
        if base_url is not None and origin(deployment.base_url) == origin(base_url):
            return deployment
        if location is not None and deployment.location == location:
            return deployment
    return None


def default_token_url(base_url: str) -> str:
    """Where credentials for ``base_url`` are sent when no token URL is given.

    A known deployment's own endpoint; a CDSE host's identity service; the local
    service's own endpoint for this machine; else the Sentinel Hub one, as in
    sentinelhub-py.

    Examples
    --------
    >>> default_token_url("https://creodias.sentinel-hub.com") == SENTINEL_HUB_TOKEN_URL
    True
    >>> default_token_url("http://127.0.0.1:8080")
    'http://127.0.0.1:8080/auth/realms/main/protocol/openid-connect/token'
    """
    known = find_deployment(base_url=base_url)
    if known is not None:
        return known.token_url
    _, host, _ = origin(base_url)
    if host.endswith(".dataspace.copernicus.eu"):
        return CDSE_TOKEN_URL
    if is_loopback(host):
        return base_url.rstrip("/") + LOCAL_TOKEN_PATH
    return SENTINEL_HUB_TOKEN_URL
