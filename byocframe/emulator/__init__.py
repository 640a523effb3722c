"""A local, persistent BYOC-compatible service for demos, notebooks and tests.

It speaks the Sentinel Hub BYOC REST API (``/api/v1/byoc``) with OAuth2 client
credentials, so byocframe's `~byocframe.Client` and sentinelhub-py's ``SentinelHubBYOC``
both work against it unchanged. State lives in SQLite (in memory by default, or a file
that survives restarts); tiles are ingested from a *virtual bucket* of registered files.

Examples
--------
>>> import byocframe
>>> with byocframe.local_service() as service:
...     client = service.client()
...     created = client.create_collection({"name": "mine", "s3Bucket": "my-bucket"})
...     [c["name"] for c in client.iter_collections()]
['mine']
"""

from byocframe.emulator.auth import FailureThrottle
from byocframe.emulator.demo import DEMO_BUCKET, DEMO_NAME
from byocframe.emulator.faults import Faults, RateLimit
from byocframe.emulator.limits import Limits
from byocframe.emulator.service import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    LocalService,
    check_credentials,
    create_service,
    local_service,
)

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEMO_BUCKET",
    "DEMO_NAME",
    "FailureThrottle",
    "Faults",
    "Limits",
    "LocalService",
    "RateLimit",
    "check_credentials",
    "create_service",
    "local_service",
]
