"""`Bucket.pool_size`: how many HEADs `apply_plan` may keep in flight (finding 256)."""

from __future__ import annotations

import boto3
from botocore.config import Config

from byocframe.bucket.access import open_bucket


def _client(pool: int):
    return boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(max_pool_connections=pool),
    )


def test_a_bucket_says_how_many_connections_its_client_keeps(tmp_path):
    assert open_bucket("s3://b", client=_client(2)).pool_size == 2
    assert open_bucket("s3://b", client=_client(24)).pool_size == 24
    assert open_bucket(str(tmp_path)).pool_size is None  # a folder has no pool
