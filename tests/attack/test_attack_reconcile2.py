"""Attacks on the fixes of findings 25-40: reconcile, apply_plan, the deletion confirmation.

Branch ``attack5`` (tests/attack/FINDINGS.md, findings 41 on). The same world as
``test_attack_reconcile.py`` (moto's S3 on 127.0.0.1, the embedded service), whose
fixtures and `World` are reused. A test marked ``xfail(strict=True)`` pins a defect open
today (its reason names the finding); it must lose its mark once fixed. Unmarked tests
show what holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
import test_attack_reconcile as base
from test_attack_reconcile import PATTERN, World

import byocframe
from byocframe.bucket.reconcile import apply_plan, reconcile
from byocframe.cli import main
from byocframe.exceptions import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")

# the fixtures of test_attack_reconcile, registered here under their own names
cog, service, world = base.cog, base.service, base.world


def days(n: int) -> list[str]:
    return [f"t/{d:02d}" for d in range(1, n + 1)]


def paths(n: int) -> list[str]:
    return [f"{d}/(BAND).tif" for d in days(n)]


def simple(world: Any, n: int) -> World:
    """``n`` one-band tiles ``t/NN/(BAND).tif``, each with its file ``t/NN/B01.tif``."""
    return world([f"{d}/B01.tif" for d in days(n)], paths(n))


def deleted(plan: pd.DataFrame) -> list[str]:
    return sorted(plan.loc[plan["action"] == "delete", "path"])


def third_gone(world: Any) -> tuple[World, Any, pd.DataFrame]:
    """Three tiles, the file of t/03 gone: the world, its tiles, the plan deleting t/03."""
    w = simple(world, 3)
    w.remove("t/03/B01.tif")
    tiles = w.tiles()
    plan = reconcile(tiles, w.files(), delete=True, bands={}, s3_bucket=w.bucket)
    assert deleted(plan) == ["t/03/(BAND).tif"]
    return w, tiles, plan


def apply_or_refuse(plan: pd.DataFrame, tiles: Any, client: Any) -> pd.DataFrame | None:
    """`apply_plan`'s result, or None when it refused the plan (a refusal is fine)."""
    try:
        return apply_plan(plan, tiles, client, progress=False)
    except ValidationError:
        return None


# --- when a plan is applied: what it checks on the server -----------------------------


def test_a_plan_applied_with_tiles_loaded_again_keeps_a_tile_reingested_since(world: Any) -> None:
    w, _, plan = third_gone(world)
    w.put("t/03/B01.tif")  # meanwhile a colleague puts the file back and reingests
    w.client.reingest_tile(w.cid, plan.loc[plan["action"] == "delete", "id"].iloc[0])
    tiles = w.tiles()  # the notebook's cell "tiles = read_tiles(...)" run again
    apply_or_refuse(plan, tiles, w.client)
    assert w.paths() == paths(3)  # today: t/03 deleted, outcome "ok"


def test_apply_plan_keeps_a_tile_whose_files_are_back(world: Any) -> None:
    w, tiles, plan = third_gone(world)
    w.put("t/03/B01.tif")  # the very file back (same ETag): the tile is healthy again
    apply_or_refuse(plan, tiles, w.client)
    assert w.paths() == paths(3)  # today: t/03 deleted


def _serve(client: Any, monkeypatch: pytest.MonkeyPatch, how: Callable[[dict], None]) -> None:
    """Make ``client.get_tile`` return the tile as ``how`` respells it (the listing not)."""
    real = client.get_tile

    def get_tile(*args: Any, **kwargs: Any) -> dict[str, Any]:
        record = real(*args, **kwargs)
        how(record)
        return record

    monkeypatch.setattr(client, "get_tile", get_tile)


def _keys_reversed(record: dict[str, Any]) -> None:
    record["additionalData"] = dict(reversed(record["additionalData"].items()))


def _float_sizes(record: dict[str, Any]) -> None:
    for meta in record["additionalData"]["filesMetadata"].values():
        meta["headerSize"] = float(meta["headerSize"])  # 580 -> 580.0


@pytest.mark.parametrize("how", [_keys_reversed, _float_sizes], ids=["key-order", "5.0"])
def test_a_get_spelling_the_same_tile_otherwise_is_no_conflict(
    world: Any, monkeypatch: pytest.MonkeyPatch, how: Callable[[dict], None]
) -> None:
    w, tiles, plan = third_gone(world)
    _serve(w.client, monkeypatch, how)
    result = apply_plan(plan, tiles, w.client, progress=False)
    assert list(result["outcome"]) == ["ok"]  # today: "conflict", additional data changed
    assert w.paths() == paths(2)


def _times_offset(record: dict[str, Any]) -> None:
    for name in ("created", "ingestionStart"):
        record[name] = record[name].replace("Z", "+00:00")


def test_times_spelled_with_an_offset_are_no_conflict(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held: ``ingestionStart`` compared as a time, not as text."""
    w, tiles, plan = third_gone(world)
    _serve(w.client, monkeypatch, _times_offset)
    result = apply_plan(plan, tiles, w.client, progress=False)
    assert list(result["outcome"]) == ["ok"]
    assert w.paths() == paths(2)


# --- the tiles frame and the listing's time -------------------------------------------


def test_a_frame_without_its_time_columns_keeps_a_tile_created_after_the_listing(
    world: Any,
) -> None:
    w = simple(world, 2)
    files = w.files()  # the bucket listed first, as a notebook may
    w.put("t/03/B01.tif")  # then a colleague adds t/03: its file, then its tile
    w.client.create_tile(w.cid, {"path": "t/03/(BAND).tif"})
    tiles = w.tiles()
    plan = reconcile(tiles, files, delete=True, bands={}, s3_bucket=w.bucket)
    assert list(plan["reason"]) == ["after-listing"]  # the full frame: left alone
    slim = tiles.drop(columns=["created", "ingestion_start"])  # to look at fewer columns
    assert byocframe.changes(slim).empty  # dropping them is no edit
    try:
        plan = reconcile(slim, files, delete=True, bands={}, s3_bucket=w.bucket)
    except ValidationError:
        plan = None  # refused: fine
    if plan is not None:
        apply_or_refuse(plan, slim, w.client)
    assert w.paths() == paths(3)  # today: t/03 deleted, its file in the bucket


def test_a_frame_loaded_in_two_parts_keeps_a_tile_created_after_the_listing(world: Any) -> None:
    """Held: ``pd.concat`` of two loads drops ``listed_at``; the service's times decide."""
    w = simple(world, 2)
    first = w.tiles().iloc[:1]
    files = w.files()  # listed between the two loads
    w.put("t/03/B01.tif")
    w.client.create_tile(w.cid, {"path": "t/03/(BAND).tif"})
    both = pd.concat([first, w.tiles().iloc[1:]])
    plan = reconcile(both, files, delete=True, bands={}, s3_bucket=w.bucket)
    assert list(zip(plan["action"], plan["reason"], plan["path"], strict=True)) == [
        ("none", "after-listing", "t/03/(BAND).tif")
    ]


@pytest.mark.parametrize("kind", ["path-edit", "reingested"])
def test_a_column_selection_without_tokens_deletes_nothing_unchecked(world: Any, kind: str) -> None:
    """Held: a frame without ``loaded`` plans, but apply_plan refuses its deletions."""
    w = simple(world, 3)
    columns = ["path", "status", "additional_data", "created", "geometry"]
    if kind == "path-edit":  # a draft path edit reconcile cannot see without the tokens
        tiles = w.tiles()[columns]
        tiles.loc[tiles.index[0], "path"] = "moved/01/(BAND).tif"
    else:  # t/03 gone when planned; back and reingested before apply
        w.remove("t/03/B01.tif")
        tiles = w.tiles()[columns]
    plan = reconcile(tiles, w.files(), delete=True, bands={}, s3_bucket=w.bucket)
    assert len(deleted(plan)) == 1
    if kind == "reingested":
        w.put("t/03/B01.tif")
        w.client.reingest_tile(w.cid, plan.loc[plan["action"] == "delete", "id"].iloc[0])
    if kind == "reingested":  # its file is back: kept by the second look at the bucket
        result = apply_plan(plan, tiles, w.client, progress=False)
        assert list(result["outcome"]) == ["conflict"]
    else:
        with pytest.raises(ValidationError, match="loaded"):
            apply_plan(plan, tiles, w.client, progress=False)
    assert w.paths() == paths(3)


# --- plans edited or reshaped by pandas -----------------------------------------------


@pytest.mark.parametrize(
    "reshape",
    [
        lambda p: pd.concat([p, p]),
        lambda p: p.sort_values("path", ascending=False).reset_index(drop=True),
        lambda p: p.set_index("path", drop=False),
    ],
    ids=["concat-twice", "sorted-reset", "reindexed"],
)
def test_a_plan_reshaped_by_pandas_deletes_what_it_holds_once(
    world: Any, reshape: Callable[[pd.DataFrame], pd.DataFrame]
) -> None:
    """Held: the plan's record survives these, and its delete is sent once."""
    w, tiles, plan = third_gone(world)
    result = apply_plan(reshape(plan), tiles, w.client, progress=False)
    assert list(zip(result["action"], result["outcome"], strict=True)) == [("delete", "ok")]
    assert w.paths() == paths(2)


def test_a_plan_replacing_a_tile_creates_it_or_refuses(world: Any) -> None:
    w, tiles, plan = third_gone(world)
    w.put("t/03/B01.tif")  # the file re-uploaded: the user adds "create t/03" to the plan
    edited = plan.copy()
    edited.loc[len(edited)] = {
        "action": "create",
        "reason": "by hand",
        "id": None,
        "path": "t/03/(BAND).tif",
        "files": ["t/03/B01.tif"],
        "detail": "",
    }
    result = apply_or_refuse(edited, tiles, w.client)
    assert result is None or "create" in set(result["action"])  # today: no create row
    assert w.paths() == paths(3)  # today: t/03 deleted, nothing created


def test_a_plan_whose_ids_do_not_match_its_paths_is_refused(world: Any) -> None:
    w, tiles, plan = third_gone(world)
    edited = plan.copy()
    edited["id"] = tiles.index[0]  # e.g. ids assigned from a frame in another order
    apply_or_refuse(edited, tiles, w.client)
    assert w.paths() == paths(3)[:2] or w.paths() == paths(3)  # today: t/01 deleted


# --- the command line ------------------------------------------------------------------


def test_a_confirmation_typed_in_upper_case_with_spaces_confirms_its_plan(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: ``--confirm-deletes`` is read without case or spaces; it deletes that plan."""
    w = simple(world, 8)
    for day in days(6):
        w.remove(f"{day}/B01.tif")
    args = ["reconcile", w.cid, f"s3://{w.bucket}/", "--pattern", PATTERN, "--delete"]
    assert main([*args, *w.account()]) == 0
    match = re.search(r"--confirm-deletes (\d+:[0-9a-f]+)", capsys.readouterr().out)
    assert match is not None
    typed = f" {match[1].upper()} "
    assert main([*args, "--apply", "--confirm-deletes", typed, *w.account()]) == 0
    assert w.paths() == paths(8)[6:]


def test_the_command_line_reconciles_a_collection_created_without_bands(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: the everyday flow. The collection is created without bands (the service
    sets them, source = name, at the first ingestion); 2 of 4 files gone, those 2 tiles
    deleted unasked (under --delete-limit)."""
    w = simple(world, 4)
    for day in days(2):
        w.remove(f"{day}/B01.tif")
    args = ["reconcile", w.cid, f"s3://{w.bucket}/", "--pattern", PATTERN, "--delete"]
    assert main([*args, "--apply", *w.account()]) == 0, capsys.readouterr()
    assert w.paths() == paths(4)[2:]


def _demo_account(running: Any) -> list[str]:
    return [
        *("--base-url", running.base_url, "--token-url", running.token_url),
        *("--client-id", running.client_id, "--client-secret", running.client_secret),
    ]


def test_push_refusing_its_deletions_lists_the_tiles_it_would_delete(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with byocframe.local_service(demo=True, demo_tiles=20) as running:
        account = _demo_account(running)
        cid = running.demo_collection
        path = tmp_path / "tiles.parquet"
        assert main(["tiles", cid, "-o", str(path), *account]) == 0
        frame = byocframe.read_file(path)
        byocframe.write_file(frame.iloc[6:], path)  # six rows lost, e.g. by a bad filter
        capsys.readouterr()
        assert main(["push", cid, str(path), "--delete-missing", *account]) == 1
        said = capsys.readouterr()
        assert "--confirm-deletes 6:" in said.err  # the code, ready to paste
        assert len(list(running.client().iter_tiles(cid))) == 20  # refused: none deleted
    shown = [tid for tid in frame.index[:6] if tid in said.out + said.err]
    assert shown == list(frame.index[:6]), said  # today: none of the six is named


def test_push_confirmed_by_its_dry_run_refuses_a_file_changed_since(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: the dry run's code names its six tiles; a seventh row dropped after it (the
    file changed) is refused with the new code, and nothing is deleted."""
    with byocframe.local_service(demo=True, demo_tiles=20) as running:
        account = _demo_account(running)
        cid = running.demo_collection
        path = tmp_path / "tiles.parquet"
        assert main(["tiles", cid, "-o", str(path), *account]) == 0
        frame = byocframe.read_file(path)
        byocframe.write_file(frame.iloc[6:], path)
        capsys.readouterr()
        push = ["push", cid, str(path), "--delete-missing", *account]
        assert main([*push, "--dry-run"]) == 0
        match = re.search(r"--confirm-deletes (6:[0-9a-f]+)", capsys.readouterr().out)
        assert match is not None
        byocframe.write_file(frame.iloc[7:], path)  # the file changed after the dry run
        assert main([*push, "--confirm-deletes", match[1]]) == 1
        err = capsys.readouterr().err
        assert "plan changed" in err
        assert "--confirm-deletes 7:" in err
        assert len(list(running.client().iter_tiles(cid))) == 20
        assert main([*push, "--confirm-deletes", re.search(r"(7:[0-9a-f]+)", err)[1]]) == 0
        assert len(list(running.client().iter_tiles(cid))) == 13


# --- the S3 listing -------------------------------------------------------------------


def _pages_of_two(s3: Any, spoil: Callable[[dict[str, Any]], None]) -> list[int]:
    """Make ``s3`` list 2 keys a page and ``spoil`` page 2 as a buggy server would."""
    pages: list[int] = []

    def small(params: dict[str, Any], **_: Any) -> None:
        params["MaxKeys"] = 2

    def count(parsed: dict[str, Any], **_: Any) -> None:
        pages.append(len(parsed.get("Contents", [])))
        if len(pages) == 2:
            spoil(parsed)

    s3.meta.events.register("before-parameter-build.s3.ListObjectsV2", small)
    s3.meta.events.register("after-call.s3.ListObjectsV2", count)
    return pages


def _no_truncated_flag(parsed: dict[str, Any]) -> None:
    assert parsed["IsTruncated"] is True
    assert parsed["NextContinuationToken"]
    del parsed["IsTruncated"]  # the token is there; the flag saying to use it is not


def _a_key_left_out(parsed: dict[str, Any]) -> None:
    assert parsed["KeyCount"] == 2
    parsed["Contents"] = parsed["Contents"][:1]  # KeyCount still says 2


@pytest.mark.parametrize("spoil", [_no_truncated_flag, _a_key_left_out], ids=["flag", "count"])
def test_a_page_that_contradicts_itself_is_no_evidence(
    world: Any, service: Any, spoil: Callable[[dict[str, Any]], None]
) -> None:
    w = simple(world, 6)
    s3 = service.s3.client()
    pages = _pages_of_two(s3, spoil)
    tiles = w.tiles()  # loaded first, as the command line does
    try:
        files = w.files(s3=s3)
        plan = reconcile(tiles, files, delete=True, bands={}, s3_bucket=w.bucket)
    except (byocframe.exceptions.BucketError, ValidationError):
        return  # refused: fine
    assert pages[:2] == [2, 2]
    assert deleted(plan) == []  # today: t/05, t/06 (flag) or t/04 (count)


def _token_lost(parsed: dict[str, Any]) -> None:
    assert parsed["IsTruncated"] is True
    del parsed["NextContinuationToken"]


def test_a_page_truncated_without_a_token_is_refused_with_the_tiles_loaded_first(
    world: Any, service: Any
) -> None:
    """Held (29 again): test_attack_reconcile's test lists before loading the tiles, so the
    after-listing guard keeps every new tile and it passes without the fix."""
    w = simple(world, 6)
    s3 = service.s3.client()
    _pages_of_two(s3, _token_lost)
    tiles = w.tiles()
    with pytest.raises(byocframe.exceptions.BucketError, match="continuation token"):
        w.files(s3=s3)
    assert len(deleted(reconcile(tiles, w.files(), delete=True, bands={}, s3_bucket=w.bucket))) == 0


def test_a_path_without_extension_is_found_with_the_tiles_loaded_first(world: Any) -> None:
    """Held (39 again, the same masking): ``t/NN/(BAND)`` meets ``t/NN/B01.tif``."""
    w = world(["t/01/B01.tif", "t/02/B01.tif"], ["t/01/(BAND)", "t/02/(BAND)"])
    assert w.statuses() == ["INGESTED", "INGESTED"]
    tiles = w.tiles()
    files = byocframe.read_bucket(f"s3://{w.bucket}/", s3=w.s3, suffix=None, progress=False)
    plan = reconcile(tiles, files, delete=True, bands={}, s3_bucket=w.bucket)
    assert plan.empty
