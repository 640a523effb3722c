"""Where credentials and URLs come from: arguments, ``SH_*`` variables, a profile.

The order is sentinelhub-py 3.12's (``SHConfig.__init__``): explicit arguments, then
the environment (``SH_CLIENT_ID``, ``SH_CLIENT_SECRET``, and byocframe's own
``SH_BASE_URL``, ``SH_TOKEN_URL``), then the profile of ``config.toml`` chosen by the
``profile`` argument, else ``$SH_PROFILE``, else ``default-profile``. Each field is
taken from the first place that has it. The file is only read, never written.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from byocframe.client.deployments import SENTINEL_HUB_TOKEN_URL, get_deployment
from byocframe.exceptions import ValidationError
from byocframe.typing import SentinelHubBYOCLike, SHConfigLike

__all__ = [
    "DEFAULT_PROFILE",
    "SHConfigLike",
    "SentinelHubBYOCLike",
    "Settings",
    "check_base_url",
    "config_path",
    "resolve_settings",
    "settings_from_sh_config",
]

DEFAULT_PROFILE = "default-profile"
#: An API path where a base URL (scheme, host and port) belongs.
_API_PATH = re.compile(r"/+api/+v\d+(?:/+(?P<api>[a-z]+))?.*$", re.IGNORECASE)
#: field -> (config.toml key, environment variable)
_FIELDS = {
    "client_id": ("sh_client_id", "SH_CLIENT_ID"),
    "client_secret": ("sh_client_secret", "SH_CLIENT_SECRET"),
    "base_url": ("sh_base_url", "SH_BASE_URL"),
    "token_url": ("sh_token_url", "SH_TOKEN_URL"),
}


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings; ``sources`` says where each one came from."""

    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    base_url: str | None = None
    token_url: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)


def settings_from_sh_config(
    config: SHConfigLike, **explicit: str | None
) -> tuple[Settings, dict[str, float | int]]:
    """Settings and client options (timeout, retries) of an ``SHConfig``.

    Explicit values win. ``SHConfig``'s default token URL is dropped, so that the base
    URL chooses (the same answer on every Sentinel Hub deployment, the right one on
    CDSE or this machine, where sentinelhub-py would send the secret to the wrong
    realm).
    """
    values = {name: getattr(config, key, None) for name, (key, _) in _FIELDS.items()}
    if values["token_url"] == SENTINEL_HUB_TOKEN_URL:
        values["token_url"] = None
    sources = {name: "SHConfig" for name, value in values.items() if value}
    for name, value in explicit.items():
        if value:
            values[name], sources[name] = value, "argument"
    check_base_url(values.get("base_url"), sources.get("base_url", ""))
    options: dict[str, float | int] = {}
    timeout = getattr(config, "download_timeout_seconds", None)
    attempts = getattr(config, "max_download_attempts", None)
    if isinstance(timeout, int | float) and timeout > 0:
        options["timeout"] = float(timeout)
    if isinstance(attempts, int) and attempts >= 1:
        options["retries"] = attempts - 1
    return Settings(**values, sources=sources), options


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """sentinelhub-py's ``config.toml``: under ``$XDG_CONFIG_HOME`` or ``~/.config``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    return Path(base) / "sentinelhub" / "config.toml"


def resolve_settings(
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    base_url: str | None = None,
    token_url: str | None = None,
    deployment: str | None = None,
    profile: str | None = None,
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    use_file: bool = True,
    profile_over_env: bool = False,
) -> Settings:
    """Combine explicit values, the environment and a profile, field by field.

    Parameters
    ----------
    client_id, client_secret, base_url, token_url : str, optional
        Explicit values: they win.
    deployment : str, optional
        A name from `byocframe.client.deployments.DEPLOYMENTS`; gives base_url and token_url
        unless those are given explicitly.
    profile : str, optional
        Profile of ``config.toml``; defaults to ``$SH_PROFILE``, then
        ``default-profile``. A named profile that is missing is an error; a missing
        default profile is not.
    path : path, optional
        The configuration file (default `config_path`).
    environ : mapping, optional
        Defaults to ``os.environ``. Empty variables count as unset.
    use_file : bool, default True
        False: arguments and environment only (``Client.from_env``).
    profile_over_env : bool, default False
        Let the profile beat the environment (the command line's ``--profile``).

    Examples
    --------
    >>> s = resolve_settings(client_id="me", environ={"SH_CLIENT_ID": "env",
    ...                      "SH_CLIENT_SECRET": "pw"}, use_file=False)
    >>> s.client_id, s.sources["client_id"], s.sources["client_secret"]
    ('me', 'argument', 'SH_CLIENT_SECRET')
    """
    env = os.environ if environ is None else environ
    explicit = {"client_id": client_id, "client_secret": client_secret}
    explicit |= {"base_url": base_url, "token_url": token_url}
    if deployment is not None:
        known = get_deployment(deployment)
        explicit["base_url"] = base_url or known.base_url
        explicit["token_url"] = token_url or known.token_url
    layers: list[tuple[str, dict[str, str]]] = [
        ("argument", {k: v for k, v in explicit.items() if v}),
        ("environment", {k: env[var] for k, (_, var) in _FIELDS.items() if env.get(var)}),
    ]
    if use_file:
        layer = _profile(profile, path, env)
        layers.insert(1 if profile_over_env else 2, layer)
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for where, layer_values in layers:
        for name, value in layer_values.items():
            if name not in values:
                values[name] = value
                sources[name] = _FIELDS[name][1] if where == "environment" else where
    check_base_url(values.get("base_url"), sources.get("base_url", ""))
    return Settings(**values, sources=sources)


def check_base_url(base_url: str | None, source: str = "base_url") -> None:
    """Refuse an API's address (``.../api/v1/byoc``) given where the base URL goes.

    ``byocframe serve`` prints the API's address too, and a base URL with a path
    would make every request a 404. The message names the value to set instead.

    Raises
    ------
    ValidationError
        For a base URL whose path holds ``/api/``.

    Examples
    --------
    >>> check_base_url("http://127.0.0.1:8080")
    >>> check_base_url("http://127.0.0.1:8080/api/v1/byoc", "SH_BASE_URL")
    Traceback (most recent call last):
    ...
    byocframe.exceptions.ValidationError: SH_BASE_URL is http://127.0.0.1:8080/api/v1/byoc, the BYOC API's address, not the base URL: set SH_BASE_URL=http://127.0.0.1:8080
    """  # noqa: E501
    if not base_url:
        return
    found = _API_PATH.search(base_url)
    if found is None:
        return
    if source.isupper():  # an environment variable
        name, target = source, f"{source}="
    elif source.startswith("profile"):
        name, target = f"sh_base_url of {source}", "sh_base_url = "
    else:
        name, target = "base_url (--base-url)", "base_url to "
    api = f"the {found['api'].upper()} API's" if found["api"] else "an API"
    raise ValidationError(
        f"{name} is {base_url}, {api} address, not the base URL: set "
        f"{target}{base_url[: found.start()]}"
    )


def _profile(
    profile: str | None, path: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> tuple[str, dict[str, str]]:
    chosen = profile or env.get("SH_PROFILE") or None
    name = chosen or DEFAULT_PROFILE
    file = Path(path) if path is not None else config_path(env)
    where = f"profile {name!r} of {file}"
    try:
        document = tomllib.loads(file.read_text())
    except FileNotFoundError as err:
        if path is None and chosen is None:
            return where, {}
        raise ValueError(
            f"no sentinelhub-py configuration at {file}: save profile {name!r} there "
            f"(sentinelhub-py: SHConfig(...).save({name!r})), or give the client id and "
            "secret (SH_CLIENT_ID / SH_CLIENT_SECRET)"
        ) from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{file} is not valid TOML: {err}") from err
    section = document.get(name)
    if section is None:
        if chosen is None:
            return where, {}
        raise ValueError(f"profile {name!r} not in {file} (has: {', '.join(sorted(document))})")
    if not isinstance(section, dict):
        raise ValueError(f"{where} is not a table")
    values = {k: section[key] for k, (key, _) in _FIELDS.items() if section.get(key)}
    if section.get("sh_auth_base_url"):  # deprecated; sentinelhub-py derives the token URL
        values["token_url"] = str(section["sh_auth_base_url"]) + "/oauth/token"
    bad = [key for key, value in values.items() if not isinstance(value, str)]
    if bad:
        raise ValueError(f"{where}: {', '.join(_FIELDS[k][0] for k in bad)} must be strings")
    return where, values
