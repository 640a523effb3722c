"""The BYOC API's HTTP client.

Deployments, credentials, the session (retries, pace, deadlines) and the transport under it.
"""

from __future__ import annotations

from byocframe.client.api import Client
from byocframe.client.connections import MAX_ANSWER_BYTES, AnswerTooLarge
from byocframe.client.deployments import DEPLOYMENTS, Deployment
from byocframe.client.paging import MAX_PAGES
from byocframe.client.transport import Answer, HTTPTransport, Request, Transport

__all__ = [
    "DEPLOYMENTS",
    "MAX_ANSWER_BYTES",
    "MAX_PAGES",
    "Answer",
    "AnswerTooLarge",
    "Client",
    "Deployment",
    "HTTPTransport",
    "Request",
    "Transport",
]
