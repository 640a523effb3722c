"""The command line on files: check, bucket, reconcile (in-process, against loopback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import byocframe
from byocframe.cli import main
from byocframe.emulator.cogs import SAMPLE_CASES, SAMPLE_PATTERN

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")


def test_check_folder_exit_code_and_findings(
    sample_folder: tuple[Path, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sample_folder[0]
    out = tmp_path / "findings.csv"
    code = main(["check", str(folder), "--pattern", SAMPLE_PATTERN, "-o", str(out)])
    assert code == 1
    findings = pd.read_csv(out)
    assert set(findings.loc[findings["severity"] == "error", "rule"]) == {
        r for r in SAMPLE_CASES.values() if r
    }
    printed = capsys.readouterr().out
    assert "ERROR   crs: tiles/crs-2056/2024-06-01/B01.tif: EPSG:2056 is not a CRS" in printed
    assert "fix: reproject: gdalwarp -t_srs EPSG:32632" in printed
    # the valid tiles alone pass
    code = main(["check", str(folder / "tiles" / "valid"), "--pattern", r"[^/]+/(BAND)\.tif"])
    assert code == 0
    assert "no findings" in capsys.readouterr().out


def test_check_with_an_extra_crs(
    sample_folder: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sample_folder[0] / "tiles" / "crs-2056"
    assert main(["check", str(folder), "--pattern", r"[^/]+/(BAND)\.tif"]) == 1
    capsys.readouterr()
    assert (
        main(["check", str(folder), "--pattern", r"[^/]+/(BAND)\.tif", "--crs", "EPSG:2056"]) == 0
    )


def test_bucket_to_parquet_from_s3(
    local_s3: Any, sample_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in local_s3.environment().items():
        monkeypatch.setenv(name, value)  # credentials and endpoint as a user would set them
    out = tmp_path / "files.parquet"
    assert main(["bucket", f"s3://{sample_bucket}/tiles/valid/", "-o", str(out)]) == 0
    files = pd.read_parquet(out)
    assert files["key"].tolist() == [
        "tiles/valid/2024-06-01/B01.tif",
        "tiles/valid/2024-06-01/B02.tif",
    ]
    assert files["image_blocks"].map(len).tolist() == [2, 2]
    tiles_out = tmp_path / "tiles.gpkg"
    args = ["bucket", f"s3://{sample_bucket}/", "-o", str(tiles_out), "--pattern", SAMPLE_PATTERN]
    assert main(args) == 0


def test_reconcile_plan_and_apply(
    local_s3: Any,
    sample_folder: tuple[Path, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in local_s3.environment().items():
        monkeypatch.setenv(name, value)
    local_s3.upload_folder(sample_folder[0] / "tiles" / "valid", "cli-reconcile", prefix="v/")
    with byocframe.local_service(s3=local_s3) as service:
        cid = service.client().create_collection({"name": "c", "s3Bucket": "cli-reconcile"})["id"]
        account = [
            *("--base-url", service.base_url, "--token-url", service.token_url),
            *("--client-id", service.client_id, "--client-secret", service.client_secret),
        ]
        pattern = r"v/(?P<sensing_time>[^/]+)/(BAND)\.tif"
        base = ["reconcile", cid, "s3://cli-reconcile/", "--pattern", pattern]
        assert main(base + account) == 0
        assert "create   new            v/2024-06-01/(BAND).tif" in capsys.readouterr().out
        assert main([*base, "--apply", *account]) == 0
        tiles = list(service.client().iter_tiles(cid))
        assert [(t["path"], t["status"]) for t in tiles] == [
            ("v/2024-06-01/(BAND).tif", "INGESTED")
        ]
        capsys.readouterr()
        assert main(base + account) == 0
        assert "agree" in capsys.readouterr().out


# ------------------------------------------------------------ S3 failures in one line
@pytest.fixture
def no_aws_credentials(
    local_s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """An environment with no AWS credentials anywhere (and no metadata service)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", local_s3.endpoint_url)  # never the real AWS
    return local_s3.environment()


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_check_without_aws_credentials_says_what_to_set(
    no_aws_credentials: dict[str, str],
    sample_bucket: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = _one_line_error(["check", f"s3://{sample_bucket}/", "--pattern", SAMPLE_PATTERN], capsys)
    assert f"s3://{sample_bucket}: no AWS credentials found" in err
    assert "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in err


def test_a_wrong_endpoint_is_one_line(
    no_aws_credentials: dict[str, str],
    sample_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    for name, value in no_aws_credentials.items():
        monkeypatch.setenv(name, value)
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    argv = ["check", f"s3://{sample_bucket}/", "--pattern", SAMPLE_PATTERN]
    err = _one_line_error([*argv, "--endpoint-url", closed], capsys)
    assert f"cannot reach the S3 endpoint {closed}" in err
    assert "--endpoint-url" in err
    err = _one_line_error(
        ["check", "s3://no-such-bucket-here/", "--pattern", SAMPLE_PATTERN], capsys
    )
    assert "no such bucket" in err


def test_s3_errors_map_to_bucket_errors() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    from byocframe.bucket.s3_errors import s3_error
    from byocframe.exceptions import (
        BucketAccessError,
        BucketConnectionError,
        BucketError,
        BucketNotFoundError,
    )

    def client_error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}}, "ListObjectsV2")

    cases = [
        (NoCredentialsError(), BucketAccessError, PermissionError),
        (EndpointConnectionError(endpoint_url="http://x"), BucketConnectionError, ConnectionError),
        (client_error("NoSuchBucket"), BucketNotFoundError, FileNotFoundError),
        (client_error("AccessDenied"), BucketAccessError, PermissionError),
        (client_error("InvalidAccessKeyId"), BucketAccessError, PermissionError),
        (client_error("PermanentRedirect"), BucketError, OSError),
        (client_error("SlowDown"), BucketError, OSError),
    ]
    for err, kind, builtin in cases:
        mapped = s3_error(err, "s3://b")
        assert type(mapped) is kind, (err, mapped)
        assert isinstance(mapped, builtin)
        assert isinstance(mapped, byocframe.ByocframeError)
        assert "\n" not in str(mapped)
        assert str(mapped).startswith("s3://b: ")
    assert "AWS_DEFAULT_REGION" in str(s3_error(client_error("PermanentRedirect"), "s3://b"))


def test_an_s3_error_chain_is_short(no_aws_credentials: dict[str, str], sample_bucket: str) -> None:
    import traceback

    from byocframe.exceptions import BucketAccessError

    with pytest.raises(BucketAccessError) as caught:
        byocframe.read_bucket(f"s3://{sample_bucket}/", progress=False)
    cause = caught.value.__cause__
    assert type(cause).__name__ == "NoCredentialsError"  # still chained, by type and message
    assert cause.__traceback__ is None  # without botocore's frames
    text = "".join(traceback.format_exception(caught.value))
    assert text.count("no AWS credentials found") == 1
    assert "botocore" not in text.replace("botocore.exceptions.NoCredentialsError", "")
