"""Attacks on the fixes of findings 41-48: apply_plan's checks, the files looked for again.

Branch ``attack6`` (tests/attack/FINDINGS.md, findings 49 on). The same world as
``test_attack_reconcile.py`` (moto's S3 on 127.0.0.1, the embedded service), whose
fixtures and `World` are reused. A test marked ``xfail(strict=True)`` pins a defect open
today (its reason names the finding); it must lose its mark once fixed. Unmarked tests
show what holds.
"""

from __future__ import annotations

import contextlib
import http.server
import importlib
import threading
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import test_attack_reconcile as base
from test_attack_reconcile import PATTERN, World

import byocframe
from byocframe.bucket.reconcile import apply_plan, reconcile
from byocframe.cli import main
from byocframe.exceptions import ValidationError

# the module, not the function of the same name that byocframe.bucket exports
reconcile_module = importlib.import_module("byocframe.bucket.reconcile")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")

# the fixtures of test_attack_reconcile, registered here under their own names
cog, service, world = base.cog, base.service, base.world


def days(n: int) -> list[str]:
    return [f"t/{d:02d}" for d in range(1, n + 1)]


def deleted(plan: pd.DataFrame) -> list[str]:
    return sorted(plan.loc[plan["action"] == "delete", "path"])


def gone_then_planned(world: Any, paths: list[str], keys: list[str]) -> tuple[World, Any, Any]:
    """Tiles ``paths`` on files ``keys``; the last file removed, the tiles loaded, then the
    whole bucket listed (every key kept): the world, the tiles, the plan deleting the last."""
    w = world(keys, paths)
    assert set(w.statuses()) == {"INGESTED"}
    w.remove(keys[-1])
    tiles = w.tiles()
    files = byocframe.read_bucket(f"s3://{w.bucket}/", s3=w.s3, suffix=None, progress=False)
    plan = reconcile(tiles, files, delete=True, bands={}, s3_bucket=w.bucket)
    assert deleted(plan) == [paths[-1]]
    return w, tiles, plan


def apply_or_refuse(
    plan: pd.DataFrame, tiles: Any, w: World, s3: Any = None
) -> pd.DataFrame | None:
    """`apply_plan`'s result, or None when it refused the plan (a refusal is fine)."""
    try:
        return apply_plan(plan, tiles, w.client, s3=s3 or w.s3, progress=False)
    except ValidationError:
        return None


# --- the files of a deletion looked for again ------------------------------------------


def test_a_tile_whose_file_is_back_is_kept(world: Any) -> None:
    """Held (42's fix): the very file back between listing and apply; the tile stays,
    reported as a conflict naming the file."""
    w, tiles, plan = gone_then_planned(
        world, [f"{d}/(BAND).tif" for d in days(3)], [f"{d}/B01.tif" for d in days(3)]
    )
    w.put("t/03/B01.tif")
    result = apply_plan(plan, tiles, w.client, s3=w.s3, progress=False)
    assert len(w.paths()) == 3
    assert result["outcome"].tolist() == ["conflict"]
    assert "t/03/B01.tif" in result["message"].iloc[0]


def test_a_path_without_extension_whose_file_is_back_is_kept(world: Any) -> None:
    spelled = [f"{d}/(BAND)" for d in days(3)]
    w, tiles, plan = gone_then_planned(world, spelled, [f"{d}/B01.tif" for d in days(3)])
    assert plan.loc[plan["action"] == "delete", "files"].tolist() == [["t/03/B01"]]
    w.put("t/03/B01.tif")  # the very file back (same ETag): the tile is healthy again
    apply_or_refuse(plan, tiles, w)
    assert len(w.paths()) == 3  # today: t/03 deleted, outcome "ok"


class _HeadRefused:
    """An S3 client whose HEAD of ``key`` is refused (AccessDenied); the rest passes."""

    def __init__(self, real: Any, key: str):
        self._real, self._key = real, key
        self.meta = real.meta

    def head_object(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        if kwargs.get("Key") == self._key:
            error = {"Error": {"Code": "403", "Message": "Forbidden"}}
            raise ClientError(error, "HeadObject")  # type: ignore[arg-type]
        return self._real.head_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_head_refused_for_one_file_deletes_nothing(world: Any) -> None:
    """Held: AccessDenied on the HEAD of one gone file (List allowed) is no evidence of
    its absence: the plan is refused before any delete, the other deletion included."""
    w = world([f"{d}/B01.tif" for d in days(3)], [f"{d}/(BAND).tif" for d in days(3)])
    w.remove("t/02/B01.tif")
    w.remove("t/03/B01.tif")
    tiles = w.tiles()
    plan = reconcile(tiles, w.files(), delete=True, bands={}, s3_bucket=w.bucket)
    assert len(deleted(plan)) == 2
    with pytest.raises(ValidationError, match="looked for again"):
        apply_plan(plan, tiles, w.client, s3=_HeadRefused(w.s3, "t/03/B01.tif"), progress=False)
    assert len(w.paths()) == 3


@pytest.mark.parametrize(
    "narrow",
    [
        lambda p: p[p["path"] == "t/03/(BAND).tif"],
        lambda p: p.query("path == 't/03/(BAND).tif'"),
        lambda p: p.sort_values("path", ascending=False).head(1),
        lambda p: p.drop(index=p.index[p["path"] != "t/03/(BAND).tif"]).copy(),
    ],
    ids=["mask", "query", "sort-head", "drop-copy"],
)
def test_a_plan_narrowed_by_pandas_deletes_exactly_its_rows(world: Any, narrow: Any) -> None:
    """Held: a plan of two deletions narrowed to one with pandas keeps the attrs
    apply_plan needs (the listing, the tokens) and deletes that one tile only."""
    w = world([f"{d}/B01.tif" for d in days(3)], [f"{d}/(BAND).tif" for d in days(3)])
    w.remove("t/02/B01.tif")
    w.remove("t/03/B01.tif")
    tiles = w.tiles()
    plan = reconcile(tiles, w.files(), delete=True, bands={}, s3_bucket=w.bucket)
    assert len(deleted(plan)) == 2
    result = apply_plan(narrow(plan), tiles, w.client, s3=w.s3, progress=False)
    assert result["outcome"].tolist() == ["ok"]
    assert w.paths() == ["t/01/(BAND).tif", "t/02/(BAND).tif"]


def test_cli_reconcile_keeps_a_tile_whose_file_is_restored_before_its_delete(
    world: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: ``reconcile --delete --apply``; the file of t/03 is put back after the listing,
    before the deletes (no ``s3=``: the command line looks at the listing's endpoint with
    the environment's credentials). t/03 stays, reported, exit 1; t/02 is deleted."""
    w = world([f"{d}/B01.tif" for d in days(3)], [f"{d}/(BAND).tif" for d in days(3)])
    w.remove("t/02/B01.tif")
    w.remove("t/03/B01.tif")
    real = reconcile_module.apply_plan

    def restored_first(*args: Any, **kwargs: Any) -> Any:
        w.put("t/03/B01.tif")  # a restore finishing while the plan is printed
        return real(*args, **kwargs)

    monkeypatch.setattr(reconcile_module, "apply_plan", restored_first)
    args = ["reconcile", w.cid, f"s3://{w.bucket}/", "--pattern", PATTERN, "--delete"]
    assert main([*args, "--apply", *w.account()]) == 1
    assert w.paths() == ["t/01/(BAND).tif", "t/03/(BAND).tif"]
    said = capsys.readouterr().out
    assert "1 request(s) ok, 1 failed" in said


def test_cli_reconcile_says_which_tile_it_kept_and_why(
    world: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world([f"{d}/B01.tif" for d in days(2)], [f"{d}/(BAND).tif" for d in days(2)])
    w.remove("t/02/B01.tif")
    real = reconcile_module.apply_plan

    def restored_first(*args: Any, **kwargs: Any) -> Any:
        w.put("t/02/B01.tif")
        return real(*args, **kwargs)

    monkeypatch.setattr(reconcile_module, "apply_plan", restored_first)
    args = ["reconcile", w.cid, f"s3://{w.bucket}/", "--pattern", PATTERN, "--delete"]
    assert main([*args, "--apply", *w.account()]) == 1
    assert len(w.paths()) == 2
    out = capsys.readouterr().out
    after = out[out.index("request(s) ok") :]  # what the run reports after applying
    assert "t/02/B01.tif" in after  # today: "0 request(s) ok, 1 failed" and nothing else


class _NoSuchBucket(http.server.BaseHTTPRequestHandler):
    """An S3 endpoint that holds no bucket: every request is a 404 (HEAD: no body)."""

    def do_HEAD(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def s3_client_of(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[Any]:
    """A boto3 client of another S3 endpoint on 127.0.0.1, answered by ``handler``."""
    import boto3

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield boto3.session.Session().client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            aws_access_key_id="k",
            aws_secret_access_key="s",
            region_name="us-east-1",
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def other_endpoint() -> Iterator[Any]:
    """A boto3 client for another S3 endpoint on 127.0.0.1, which lacks the bucket."""
    with s3_client_of(_NoSuchBucket) as client:
        yield client


def test_apply_plan_looks_for_the_files_where_the_bucket_was_listed(
    world: Any, other_endpoint: Any
) -> None:
    w = world([f"{d}/B01.tif" for d in days(3)], [f"{d}/(BAND).tif" for d in days(3)])
    w.remove("t/03/B01.tif")
    tiles = w.tiles()
    plan = reconcile(tiles, w.files(), delete=True, bands={}, s3_bucket=w.bucket)
    assert plan.attrs["byocframe"]["endpoint_url"] == w.s3.meta.endpoint_url
    w.put("t/03/B01.tif")  # back: the tile is healthy again
    apply_or_refuse(plan, tiles, w, s3=other_endpoint)  # e.g. the default AWS client
    assert len(w.paths()) == 3  # today: t/03 deleted, outcome "ok"


def test_a_plan_saved_to_parquet_still_looks_for_its_files(world: Any, tmp_path: Any) -> None:
    """Held: a plan written to Parquet and read back (attrs and list cells as arrays)
    keeps the tile of two gone files when one of them is back, and deletes the other."""
    bands = {"B01": {"source": "B01"}, "B02": {"source": "B02"}}
    keys = [f"{d}/{b}.tif" for d in days(3) for b in ("B01", "B02")]
    w = world(keys, [f"{d}/(BAND).tif" for d in days(3)], bands)
    assert set(w.statuses()) == {"INGESTED"}
    for key in ("t/02/B01.tif", "t/02/B02.tif", "t/03/B01.tif", "t/03/B02.tif"):
        w.remove(key)
    tiles = w.tiles()
    plan = reconcile(tiles, w.files(), delete=True, bands=bands, s3_bucket=w.bucket)
    assert deleted(plan) == ["t/02/(BAND).tif", "t/03/(BAND).tif"]
    plan.to_parquet(tmp_path / "plan.parquet")
    read = pd.read_parquet(tmp_path / "plan.parquet")
    assert read.attrs == plan.attrs
    w.put("t/03/B02.tif")  # one of t/03's two files back
    result = apply_plan(read, tiles, w.client, s3=w.s3, progress=False)
    assert sorted(result["outcome"]) == ["conflict", "ok"]
    assert w.paths() == ["t/01/(BAND).tif", "t/03/(BAND).tif"]


def test_a_plan_without_its_files_column_is_refused_by_name(world: Any) -> None:
    w = world([f"{d}/B01.tif" for d in days(3)], [f"{d}/(BAND).tif" for d in days(3)])
    w.remove("t/03/B01.tif")
    tiles = w.tiles()
    plan = reconcile(tiles, w.files(), delete=True, bands={}, s3_bucket=w.bucket)
    w.put("t/03/B01.tif")  # back: the tile is healthy again
    narrow = plan[["action", "id", "path"]]  # attrs kept
    assert narrow.attrs == plan.attrs
    with pytest.raises(ValidationError):  # today: KeyError: 'files'
        apply_plan(narrow, tiles, w.client, s3=w.s3, progress=False)
    assert len(w.paths()) == 3


def _demo_account(running: Any) -> list[str]:
    return [
        *("--base-url", running.base_url, "--token-url", running.token_url),
        *("--client-id", running.client_id, "--client-secret", running.client_secret),
    ]


def test_push_of_a_table_without_tokens_lists_each_deletion_with_its_path(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held (47's fix, a file without ``loaded``): the six tiles a ``--delete-missing``
    would delete are listed by id and path before the refusal; none is deleted."""
    with byocframe.local_service(demo=True, demo_tiles=20) as running:
        account = _demo_account(running)
        cid = running.demo_collection
        path = tmp_path / "tiles.parquet"
        assert main(["tiles", cid, "-o", str(path), *account]) == 0
        frame = byocframe.read_file(path)
        byocframe.write_file(frame.iloc[6:].drop(columns=["loaded"]), path)
        capsys.readouterr()
        assert main(["push", cid, str(path), "--delete-missing", *account]) == 1
        said = capsys.readouterr()
        assert len(list(running.client().iter_tiles(cid))) == 20
    listed = [line for line in said.out.splitlines() if line.strip().startswith("delete ")]
    assert sorted(listed) == sorted(
        f"  delete {tid}  {frame.loc[tid, 'path']}" for tid in frame.index[:6]
    ), said
