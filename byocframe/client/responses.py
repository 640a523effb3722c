"""Reading the service's answers: JSON bodies, typed errors, ``Retry-After``."""

from __future__ import annotations

import math
from typing import Any, TypeAlias

from byocframe.client.transport import Answer
from byocframe.exceptions import (
    AnswerTooLarge,
    APIError,
    RateLimitError,
    TransportError,
    error_for_status,
)

__all__ = [
    "JSON",
    "decode",
    "error_from",
    "json_or_none",
    "one_line",
    "redirect_note",
    "retry_after",
    "seconds",
]

#: A decoded JSON answer.
JSON: TypeAlias = "dict[str, Any] | list[Any] | str | int | float | bool | None"


def error_from(
    response: Answer,
    method: str,
    *,
    retry_after: float | None = None,
    note: str | None = None,
) -> APIError:
    """The typed error for an error answer; ``note`` is added to the server's message."""
    message, code, errors = response.reason or "error", None, None
    body = json_or_none(response)
    inner = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(inner, dict):
        message = (
            inner.get("message")
            or inner.get("description")  # the Catalog API's error body
            or inner.get("error_description")
            or message
        )
        code = inner.get("code")
        errors = inner.get("errors")
    # a server's own words, shown as one line of bounded length (a hostile one sent a
    # megabyte over 50,000 lines)
    message = one_line(message)
    code = None if code is None else one_line(code, 60)
    if note:
        message = f"{message}; {note}"
    cls = error_for_status(response.status)
    kwargs: dict[str, Any] = {
        "method": method,
        "url": response.url,
        "code": code,
        "errors": errors,
    }
    if cls is RateLimitError:
        kwargs["retry_after"] = retry_after
    return cls(response.status, str(message), **kwargs)


def one_line(text: object, most: int = 300) -> str:
    """Text a peer sent, as one line of at most ``most`` characters (for a message).

    Examples
    --------
    >>> one_line("one   two " * 10, 12)
    'one two o...'
    """
    line = " ".join(str(text).split())
    return line if len(line) <= most else line[: most - 3] + "..."


def json_or_none(response: Answer) -> JSON:
    """The decoded body, or None when it is not JSON (or too large to parse)."""
    try:
        return response.json()
    except (ValueError, RecursionError, AnswerTooLarge):
        return None


def decode(response: Answer, method: str, url: str) -> JSON:
    """The decoded body (None when empty); `TransportError` when it is not JSON."""
    if response.status == 204 or not response.body:
        return None
    try:
        return response.json()
    except AnswerTooLarge as err:
        raise AnswerTooLarge(f"{method} {url}: {err}", method=method, url=url) from err
    except ValueError as err:
        raise TransportError(
            f"{method} {url}: the answer is not JSON ({err})", method=method, url=url
        ) from err
    except RecursionError as err:  # Python's reader stops near 1,000 levels; BYOC uses 32
        raise TransportError(
            f"{method} {url}: the answer's JSON is nested deeper than Python reads (about "
            "1,000 levels); no BYOC or Catalog answer is",
            method=method,
            url=url,
        ) from err


def redirect_note(response: Answer) -> str:
    """Why a redirect is an error, and where it pointed."""
    target = response.headers.get("Location", "nowhere")
    return (
        f"redirected to {target[:200]}; byocframe does not follow redirects (they could "
        "carry the token elsewhere): check the URL"
    )


def seconds(value: object) -> float | None:
    """A number of seconds, or None when it is not a number."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return None if math.isnan(number) else number


def retry_after(response: Answer) -> float | None:
    """``Retry-After`` in seconds (Sentinel Hub sends milliseconds), or None."""
    value = seconds(response.headers.get("Retry-After"))
    return None if value is None or value < 0 else value / 1000
