"""A real S3-compatible endpoint on the loopback interface (moto's server mode).

For tests, demos and notebooks: files are uploaded with boto3 like to any bucket, and
both `byocframe.read_bucket` and the local service's ingestion read them back with
ranged GETs. Needs the ``local-s3`` extra (``moto[server]``).

moto keeps its buckets in memory, per process: two `LocalS3` in one process see the
same buckets, and everything is gone when the process ends.

Examples
--------
>>> with LocalS3() as s3:
...     _ = s3.client().create_bucket(Bucket="doc-bucket")
...     s3.client().put_object(Bucket="doc-bucket", Key="a.txt", Body=b"hello")["ETag"]
'"5d41402abc4b2a76b9719d911017c592"'
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

__all__ = ["LocalS3"]

#: Credentials the local endpoint is given (moto accepts any).
ACCESS_KEY = "byocframe-local"
SECRET_KEY = "byocframe-local-secret"
REGION = "us-east-1"


class LocalS3:
    """moto's S3 server on ``127.0.0.1`` (a free port unless ``port`` is given).

    Attributes
    ----------
    endpoint_url : str
        ``http://127.0.0.1:<port>``, for boto3's ``endpoint_url`` or `byocframe.read_bucket`.
    """

    def __init__(self, *, port: int = 0):
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as err:
            raise ImportError(
                "the local S3 endpoint needs moto's server: pip install 'byocframe[local-s3]'"
            ) from err
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.endpoint_url = ""
        self._client: Any = None

    def __repr__(self) -> str:
        return f"LocalS3(endpoint_url={self.endpoint_url!r})"

    def start(self) -> LocalS3:
        """Serve on a background thread (moto's per-request log lines are silenced)."""
        # werkzeug logs every request at INFO on stderr: noise in notebooks and tests
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def __enter__(self) -> LocalS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """Environment variables that point AWS tools (boto3, the AWS CLI) here."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self) -> Any:
        """A boto3 S3 client for this endpoint (one, shared: boto3 clients are thread-safe)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self.endpoint_url,
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY,
                region_name=REGION,
                config=Config(max_pool_connections=32),
            )
        return self._client

    def upload_folder(
        self, folder: str | os.PathLike[str], bucket: str, *, prefix: str = ""
    ) -> list[str]:
        """Upload every file under ``folder`` (creating the bucket); return the keys."""
        client = self.client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)
        root = Path(folder)
        keys = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            key = prefix + path.relative_to(root).as_posix()
            client.upload_file(str(path), bucket, key)
            keys.append(key)
        return keys
