"""Attacks on the fixes of findings 49-52, both ways: wrong deletes, and false refusals.

Branch ``attack7`` (tests/attack/FINDINGS.md, findings 53 on). The same world as
``test_attack_reconcile.py`` (moto's S3 on 127.0.0.1, the embedded service), whose
fixtures and `World` are reused. A test marked ``xfail(strict=True)`` pins a defect open
today (its reason names the finding); it must lose its mark once fixed. Unmarked tests
show what holds, including everyday flows the guards must not refuse.
"""

from __future__ import annotations

import contextlib
import http.server
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import test_attack_reconcile as base
from test_attack_reconcile import PATTERN, World
from test_attack_reconcile3 import s3_client_of

import byocframe
from byocframe.bucket.files import group_tiles
from byocframe.bucket.reconcile import apply_plan, reconcile
from byocframe.cli import main
from byocframe.exceptions import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")

# the fixtures of test_attack_reconcile, registered here under their own names
cog, service, world = base.cog, base.service, base.world


def days(n: int) -> list[str]:
    return [f"t/{d:02d}" for d in range(1, n + 1)]


def deleted(plan: pd.DataFrame) -> list[str]:
    return sorted(plan.loc[plan["action"] == "delete", "path"])


def simple(world: Any, n: int) -> World:
    """``n`` one-band tiles ``t/NN/(BAND).tif`` on their files ``t/NN/B01.tif``."""
    w = world([f"{d}/B01.tif" for d in days(n)], [f"{d}/(BAND).tif" for d in days(n)])
    assert set(w.statuses()) == {"INGESTED"}
    return w


def third_gone(world: Any, url: str | None = None, s3: Any = None) -> tuple[World, Any, Any]:
    """Three tiles, t/03's file removed, tiles loaded, then the bucket listed: the plan
    deletes t/03."""
    w = simple(world, 3)
    w.remove("t/03/B01.tif")
    tiles = w.tiles()
    plan = reconcile(tiles, w.files(url, s3=s3), delete=True, bands={}, s3_bucket=w.bucket)
    assert deleted(plan) == ["t/03/(BAND).tif"]
    return w, tiles, plan


# --- 1. a deletion's files looked for at another endpoint ------------------------------


class _StagingCopy(http.server.BaseHTTPRequestHandler):
    """Another S3 endpoint holding a bucket of the same name, but not the restored file:
    HEAD of a bucket answers 200, HEAD of a key 404 (path-style requests)."""

    def do_HEAD(self) -> None:
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        self.send_response(200 if len(parts) == 1 else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def staging() -> Iterator[Any]:
    """A boto3 client of another S3 endpoint on 127.0.0.1 (``_StagingCopy``)."""
    with s3_client_of(_StagingCopy) as client:
        yield client


def test_apply_plan_refuses_a_client_of_another_endpoint_that_has_the_bucket(
    world: Any, staging: Any
) -> None:
    w, tiles, plan = third_gone(world)
    assert plan.attrs["byocframe"]["endpoint_url"] == w.s3.meta.endpoint_url
    assert staging.meta.endpoint_url != w.s3.meta.endpoint_url
    w.put("t/03/B01.tif")  # back: the tile is healthy again
    with contextlib.suppress(ValidationError):  # a refusal is fine
        apply_plan(plan, tiles, w.client, s3=staging, progress=False)
    assert len(w.paths()) == 3  # today: t/03 deleted, outcome "ok"


# --- 2. everyday flows the guards must not refuse --------------------------------------


class _PrefixScoped:
    """An S3 client of a user allowed to list (and read) under a prefix only: the usual
    IAM policy ``s3:ListBucket`` with a condition on ``s3:prefix`` denies HeadBucket
    (it names no prefix), so head_bucket answers 403; listing and HEAD of keys pass."""

    def __init__(self, real: Any):
        self._real = real
        self.meta = real.meta

    def head_bucket(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        error = {"Error": {"Code": "403", "Message": "Forbidden"}}
        raise ClientError(error, "HeadBucket")  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_user_listing_a_prefix_can_apply_its_deletions(world: Any) -> None:
    w = simple(world, 3)
    scoped = _PrefixScoped(w.s3)
    w.remove("t/03/B01.tif")
    tiles = w.tiles()
    files = w.files(f"s3://{w.bucket}/t/", s3=scoped)  # the listing itself passes
    plan = reconcile(tiles, files, delete=True, bands={}, s3_bucket=w.bucket)
    assert deleted(plan) == ["t/03/(BAND).tif"]
    apply_plan(plan, tiles, w.client, s3=scoped, progress=False)  # today: ValidationError
    assert w.paths() == ["t/01/(BAND).tif", "t/02/(BAND).tif"]


def test_apply_plan_without_s3_reads_the_environment_s_credentials(world: Any) -> None:
    """Held: no ``s3=`` at apply time; the environment's credentials at the listing's
    endpoint look for the gone file (still gone): t/03 deleted, nothing else."""
    w, tiles, plan = third_gone(world)
    result = apply_plan(plan, tiles, w.client, progress=False)
    assert result["outcome"].tolist() == ["ok"]
    assert w.paths() == ["t/01/(BAND).tif", "t/02/(BAND).tif"]


def test_cli_with_endpoint_url_and_no_endpoint_in_the_environment(
    world: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: ``--endpoint-url`` (the environment names no endpoint, only credentials)
    lists a prefix and deletes exactly the tile whose file is gone."""
    w = simple(world, 4)
    endpoint = w.s3.meta.endpoint_url
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    w.remove("t/02/B01.tif")
    args = ["reconcile", w.cid, f"s3://{w.bucket}/t/", "--pattern", PATTERN, "--delete"]
    code = main([*args, "--apply", "--endpoint-url", endpoint, *w.account()])
    out = capsys.readouterr()
    assert code == 0, out
    assert w.paths() == ["t/01/(BAND).tif", "t/03/(BAND).tif", "t/04/(BAND).tif"]


def test_cli_reconcile_of_a_cdse_style_bucket(
    world: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: a collection whose s3Bucket is ``PROJECT:bucket`` (CDSE), listed as
    ``s3://bucket/``: the gone tile deleted, the others kept. The emulator reads files
    from the plain name only, so the collection is shown with the prefix after ingestion
    (its s3Bucket cannot change while it has tiles)."""
    from byocframe.client.api import Client

    w = simple(world, 3)
    real = Client.get_collection

    def cdse(self: Any, collection: Any) -> dict[str, Any]:
        record = dict(real(self, collection))
        record["s3Bucket"] = f"1234:{record['s3Bucket']}"
        return record

    monkeypatch.setattr(Client, "get_collection", cdse)
    assert w.client.get_collection(w.cid)["s3Bucket"] == f"1234:{w.bucket}"
    w.remove("t/03/B01.tif")
    args = ["reconcile", w.cid, f"s3://{w.bucket}/", "--pattern", PATTERN, "--delete"]
    code = main([*args, "--apply", *w.account()])
    out = capsys.readouterr()
    assert code == 0, out
    assert w.paths() == ["t/01/(BAND).tif", "t/02/(BAND).tif"]


def test_auto_configured_bands_reconcile_and_apply(world: Any) -> None:
    """Held: a collection created without bands, configured by its first ingestion (the
    emulator, like the service); the python flow with the collection's own bands (sources
    equal to names) deletes exactly the tile whose file is gone."""
    w = simple(world, 3)
    bands = w.client.get_collection(w.cid)["additionalData"]["bands"]
    assert list(bands) == ["B01"]
    w.remove("t/02/B01.tif")
    tiles = w.tiles()
    plan = reconcile(tiles, w.files(), delete=True, bands=bands, s3_bucket=w.bucket)
    assert deleted(plan) == ["t/02/(BAND).tif"]
    apply_plan(plan, tiles, w.client, s3=w.s3, progress=False)
    assert w.paths() == ["t/01/(BAND).tif", "t/03/(BAND).tif"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_plan_of_creates_only_read_back_from_a_file(world: Any, tmp_path: Path, fmt: str) -> None:
    """Held: a plan of creates only, saved and read back (CSV loses attrs and the list
    cells; nothing is deleted, so neither is needed) creates its tiles."""
    w = world([f"{d}/B01.tif" for d in days(3)], ["t/01/(BAND).tif"])
    tiles = w.tiles()
    files = w.files()
    plan = reconcile(tiles, files, pattern=PATTERN, s3_bucket=w.bucket)
    assert sorted(plan.loc[plan["action"] == "create", "path"]) == [
        "t/02/(BAND).tif",
        "t/03/(BAND).tif",
    ]
    where = tmp_path / f"plan.{fmt}"
    if fmt == "csv":
        plan.to_csv(where, index=False)
        read = pd.read_csv(where)
    else:
        plan.to_parquet(where)
        read = pd.read_parquet(where)
    result = apply_plan(
        read, tiles, w.client, candidates=group_tiles(files, PATTERN), progress=False
    )
    assert result["outcome"].tolist() == ["ok", "ok"]
    assert w.paths() == [f"{d}/(BAND).tif" for d in days(3)]


# --- 1. a load filtered at the service taken for the whole collection -----------------


def failed_only(world: Any) -> tuple[World, Any, Any]:
    """Tiles ``t/01..03/(BAND)`` (no extension: the service reads ``B01.tif``) ingested,
    and ``t/04/(BAND)`` FAILED (no file); the FAILED tiles loaded alone
    (``read_tiles(status="FAILED")``: ``attrs`` say ``whole: False``) and the bucket listed."""
    keys = [f"{d}/B01.tif" for d in days(3)]
    w = world(keys, [f"{d}/(BAND)" for d in days(4)])
    assert sorted(w.statuses()) == ["FAILED", "INGESTED", "INGESTED", "INGESTED"]
    failed = byocframe.read_tiles(w.client, w.cid, status="FAILED", progress=False)
    assert failed["path"].tolist() == ["t/04/(BAND)"]
    assert failed.attrs["byocframe"]["whole"] is False
    return w, failed, w.files()


def test_a_filtered_load_plans_no_twin_of_the_tiles_it_does_not_hold(world: Any) -> None:
    w, failed, files = failed_only(world)
    before = w.paths()
    try:
        plan = reconcile(failed, files, pattern=PATTERN, s3_bucket=w.bucket)
        apply_plan(plan, failed, w.client, candidates=group_tiles(files, PATTERN), progress=False)
    except ValidationError:
        pass  # refused (reconcile or apply_plan): fine
    assert w.paths() == before  # today: three twins t/0N/(BAND).tif, ingesting the same files


def test_a_filtered_load_reports_no_file_of_another_tile_unused(world: Any) -> None:
    w, failed, files = failed_only(world)
    try:
        plan = reconcile(failed, files, s3_bucket=w.bucket)
    except ValidationError:
        return  # refused: fine
    unused = plan.loc[plan["reason"] == "unused-file", "files"]
    assert not len(unused), plan[["action", "reason", "files"]]  # today: t/01..03/B01.tif


def test_a_file_back_after_a_prefix_listing_keeps_its_tile(world: Any) -> None:
    """Held: the plan of a listing of ``s3://b/t/`` looks for the whole key again (not
    one relative to the prefix): the file back keeps its tile."""
    w, tiles, _ = third_gone(world)
    listing = w.files(f"s3://{w.bucket}/t/")
    prefixed = reconcile(tiles, listing, delete=True, bands={}, s3_bucket=w.bucket)
    assert prefixed.loc[prefixed["action"] == "delete", "files"].tolist() == [["t/03/B01.tif"]]
    w.put("t/03/B01.tif")
    result = apply_plan(prefixed, tiles, w.client, s3=w.s3, progress=False)
    assert result["outcome"].tolist() == ["conflict"]
    assert len(w.paths()) == 3


def test_a_failed_tile_with_its_file_present_blocks_nothing(world: Any) -> None:
    """Held: a FAILED tile whose file is there but not a COG is neither a create (no twin),
    nor its file unused; the plan creates the new tile only and apply_plan carries it."""
    w = world([f"{d}/B01.tif" for d in days(3)], [])
    w.s3.put_object(Bucket=w.bucket, Key="t/04/B01.tif", Body=b"not a tiff")
    for d in ("t/01", "t/02", "t/04"):
        w.client.create_tile(
            w.cid, {"path": f"{d}/(BAND).tif", "sensingTime": "2024-06-01T00:00:00Z"}
        )
    assert sorted(w.statuses()) == ["FAILED", "INGESTED", "INGESTED"]
    tiles, files = w.tiles(), w.files()
    bands = w.client.get_collection(w.cid)["additionalData"]["bands"]
    plan = reconcile(tiles, files, pattern=PATTERN, bands=bands, delete=True, s3_bucket=w.bucket)
    assert plan[["action", "path"]].values.tolist() == [["create", "t/03/(BAND).tif"]]
    apply_plan(plan, tiles, w.client, candidates=group_tiles(files, PATTERN), progress=False)
    assert w.paths() == [f"t/0{d}/(BAND).tif" for d in (1, 2, 3, 4)]


def test_cli_reconcile_of_a_replaced_file_reingests_only(
    world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: a plan of one reingest (t/02's file replaced by another COG after ingestion)
    is carried out by the command line with no confirmation and nothing deleted."""
    from byocframe.emulator.cogs import write_cog

    w = simple(world, 3)
    other = write_cog(tmp_path / "other.tif", size=512, blocksize=256)
    w.s3.upload_file(str(other), w.bucket, "t/02/B01.tif")
    args = ["reconcile", w.cid, f"s3://{w.bucket}/", "--pattern", PATTERN, "--delete"]
    code = main([*args, "--apply", *w.account()])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("0 deletions, 0 creates, 1 reingests"), out
    assert len(w.paths()) == 3
