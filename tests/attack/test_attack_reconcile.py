"""Attacks on the deletes of `reconcile` / `apply_plan` and of the command lines around them.

Branch ``attack4`` (tests/attack/FINDINGS.md, findings 25 on). Every test runs against
the real S3 of tests/bucket (moto's server on 127.0.0.1) and the embedded local BYOC
service. A test marked ``xfail(strict=True)`` pins a defect open today (its reason
names the finding); it must lose its mark once fixed. Unmarked tests show what holds.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import byocframe
from byocframe.bucket.files import read_bucket
from byocframe.bucket.reconcile import apply_plan, reconcile
from byocframe.cli import main
from byocframe.emulator.cogs import write_cog
from byocframe.exceptions import BucketError, ValidationError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")

PATTERN = r"t/(?P<day>\d\d)/(BAND)\.tif"
_names = (f"attack-rec-{n}" for n in itertools.count())


@pytest.fixture(scope="module")
def cog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small valid COG, uploaded under every key a test needs."""
    return write_cog(tmp_path_factory.mktemp("attack-rec") / "c.tif", size=256, blocksize=256)


@pytest.fixture(scope="module")
def service(local_s3: Any) -> Iterator[Any]:
    with byocframe.local_service(s3=local_s3) as running:
        yield running


class World:
    """A fresh bucket with ``keys`` and a collection on it holding ``paths``, ingested."""

    def __init__(
        self,
        service: Any,
        cog: Path,
        keys: list[str],
        paths: list[str],
        bands: dict[str, Any] | None = None,
    ):
        self.service = service
        self.cog = cog
        self.bucket = next(_names)
        self.s3 = service.s3.client()
        self.s3.create_bucket(Bucket=self.bucket)
        for key in keys:
            self.put(key)
        self.client = service.client()
        body: dict[str, Any] = {"name": self.bucket, "s3Bucket": self.bucket}
        if bands:
            body["additionalData"] = {"bands": bands}
        self.cid = self.client.create_collection(body)["id"]
        for path in paths:
            self.client.create_tile(self.cid, {"path": path, "sensingTime": "2024-06-01T00:00:00Z"})

    def put(self, key: str) -> None:
        self.s3.upload_file(str(self.cog), self.bucket, key)

    def remove(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def tiles(self) -> Any:
        return byocframe.read_tiles(self.client, self.cid, progress=False)

    def files(self, url: str | None = None, s3: Any = None) -> Any:
        url = url or f"s3://{self.bucket}/"
        return read_bucket(url, s3=s3 or self.s3, progress=False)

    def paths(self) -> list[str]:
        return sorted(t["path"] for t in self.client.iter_tiles(self.cid))

    def statuses(self) -> list[str]:
        return [t["status"] for t in self.client.iter_tiles(self.cid)]

    def account(self) -> list[str]:
        return _account(self.service)


def _account(service: Any) -> list[str]:
    """The command line's options for the local service."""
    return [
        *("--base-url", service.base_url, "--token-url", service.token_url),
        *("--client-id", service.client_id, "--client-secret", service.client_secret),
    ]


@pytest.fixture
def world(service: Any, cog: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in service.s3.environment().items():
        monkeypatch.setenv(name, value)  # the command line finds the local S3 as a user's

    def build(keys: list[str], paths: list[str], bands: dict[str, Any] | None = None) -> World:
        return World(service, cog, keys, paths, bands)

    return build


def _days(n: int) -> list[str]:
    return [f"t/{d:02d}" for d in range(1, n + 1)]


def _simple(world: Any, n: int) -> World:
    """``n`` one-band tiles ``t/NN/(BAND).tif``, each with its file ``t/NN/B01.tif``."""
    days = _days(n)
    return world([f"{d}/B01.tif" for d in days], [f"{d}/(BAND).tif" for d in days])


def _deleted(plan: pd.DataFrame) -> list[str]:
    return sorted(plan.loc[plan["action"] == "delete", "path"])


# --- the S3 listing ------------------------------------------------------------------


def _paged(s3: Any, *, size: int = 2) -> list[int]:
    """Make ``s3`` list ``size`` keys a page (what a big bucket does at 1,000); the pages."""
    pages: list[int] = []

    def small(params: dict[str, Any], **_: Any) -> None:
        params["MaxKeys"] = size

    def count(parsed: dict[str, Any], **_: Any) -> None:
        pages.append(len(parsed.get("Contents", [])))

    s3.meta.events.register("before-parameter-build.s3.ListObjectsV2", small)
    s3.meta.events.register("after-call.s3.ListObjectsV2", count)
    return pages


def test_a_paged_listing_is_read_to_its_end(world: Any, service: Any) -> None:
    """Held: 6 keys in pages of 2 are all listed, and nothing is planned deleted."""
    w = _simple(world, 6)
    s3 = service.s3.client()
    pages = _paged(s3)
    tiles = w.tiles()  # loaded before the listing, as the command line does
    files = w.files(s3=s3)
    assert pages == [2, 2, 2]
    assert len(files) == 6
    assert reconcile(tiles, files, delete=True, bands={}, s3_bucket=w.bucket).empty


def test_a_page_marked_truncated_without_a_token_is_no_evidence(world: Any, service: Any) -> None:
    w = _simple(world, 6)
    s3 = service.s3.client()
    pages = _paged(s3)

    def lose_token(parsed: dict[str, Any], **_: Any) -> None:
        if len(pages) == 2:  # an S3-compatible server that drops the token of page 2
            assert parsed["IsTruncated"] is True
            parsed.pop("NextContinuationToken")

    s3.meta.events.register("after-call.s3.ListObjectsV2", lose_token)
    try:
        tiles = w.tiles()  # loaded before the listing, as the command line does
        files = w.files(s3=s3)
        plan = reconcile(tiles, files, delete=True, bands={}, s3_bucket=w.bucket)
    except (BucketError, ValidationError):
        return  # refused: fine
    assert _deleted(plan) == []  # today: t/05 and t/06, whose keys were on page 3


@pytest.mark.parametrize("page", [1, 2])
@pytest.mark.parametrize("code", ["AccessDenied", "InternalError", "SlowDown"])
def test_an_s3_error_in_a_listing_leaves_no_files_frame(
    world: Any, service: Any, page: int, code: str
) -> None:
    """Held: an error on any page raises; no partial frame is returned to plan from."""
    from botocore.exceptions import ClientError

    w = _simple(world, 6)
    s3 = service.s3.client()
    pages = _paged(s3)

    def fail(**_: Any) -> None:
        if len(pages) == page:
            raise ClientError({"Error": {"Code": code, "Message": "no"}}, "ListObjectsV2")

    s3.meta.events.register("after-call.s3.ListObjectsV2", fail)
    with pytest.raises(BucketError, match=code):
        w.files(s3=s3)


KEYS = [
    "s p/a b/B01.tif",
    "s p/c+d/B01.tif",
    "p+l/x+y/B01.tif",
    "pc/50%25/B01.tif",
    "ü/ñ é/B01.tif",
    "q/a?b=c&d#e/B01.tif",
    "Case/X/B01.tif",
]


def test_keys_with_spaces_plus_percent_and_unicode_plan_no_deletion(world: Any) -> None:
    """Held: boto3 decodes the URL-encoded listing; every key meets its tile's path."""
    w = world(KEYS, [k.replace("B01", "(BAND)") for k in KEYS])
    assert w.statuses() == ["INGESTED"] * len(KEYS)
    files = w.files()
    assert sorted(files["key"]) == sorted(KEYS)
    assert reconcile(w.tiles(), files, delete=True, bands={}, s3_bucket=w.bucket).empty
    # a prefix with a space: the tiles outside it are left alone, the one inside compared
    w.remove("s p/a b/B01.tif")
    plan = reconcile(
        w.tiles(), w.files(f"s3://{w.bucket}/s p/"), delete=True, bands={}, s3_bucket=w.bucket
    )
    assert _deleted(plan) == ["s p/a b/(BAND).tif"]
    others = plan[plan["path"] != "s p/a b/(BAND).tif"]
    assert sorted(others["path"]) == sorted(
        k.replace("B01", "(BAND)") for k in KEYS if not k.startswith("s p/")
    )
    assert set(others["reason"]) == {"unlisted"}


@pytest.mark.parametrize("url", ["t", "t/", "t/0", ""])
def test_prefix_spellings_delete_only_what_they_list(world: Any, url: str) -> None:
    """Held: with or without a trailing slash, a tile outside the prefix is never deleted."""
    w = world(
        ["t/01/B01.tif", "t/02/B01.tif", "u/01/B01.tif"],
        ["t/01/(BAND).tif", "t/02/(BAND).tif", "u/01/(BAND).tif", "u/02/(BAND).tif"],
    )  # u/02 never had its file: FAILED, no filesMetadata, so never "gone"
    w.remove("t/02/B01.tif")
    w.remove("u/01/B01.tif")
    plan = reconcile(
        w.tiles(), w.files(f"s3://{w.bucket}/{url}"), delete=True, bands={}, s3_bucket=w.bucket
    )
    expected = ["t/02/(BAND).tif"] + (["u/01/(BAND).tif"] if url == "" else [])
    assert _deleted(plan) == expected


def test_a_listing_older_than_a_tile_plans_no_deletion_of_it(world: Any, tmp_path: Path) -> None:
    w = _simple(world, 2)
    w.files().to_parquet(tmp_path / "files.parquet")  # yesterday's listing, kept
    old = pd.read_parquet(tmp_path / "files.parquet")
    assert old.attrs["byocframe"]["listed"] == 2  # the evidence record survives Parquet
    yesterday = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=1)
    old.attrs["byocframe"]["listed_at"] = yesterday.isoformat(timespec="seconds")
    w.put("t/03/B01.tif")  # today: a new file, and its tile
    w.client.create_tile(w.cid, {"path": "t/03/(BAND).tif"})
    tiles = w.tiles()
    assert (tiles["created"] > yesterday).all()
    plan = reconcile(tiles, old, delete=True, bands={}, s3_bucket=w.bucket)
    assert _deleted(plan) == []  # today: t/03, "not in the listing of ... at <yesterday>"


# --- bands ----------------------------------------------------------------------------

RED = {"red": {"source": "B04", "sampleFormat": "UINT", "bitDepth": 8}}


def test_reconcile_without_bands_plans_no_deletion_of_files_named_by_source(world: Any) -> None:
    days = _days(3)
    w = world([f"{d}/B04.tif" for d in days], [f"{d}/(BAND).tif" for d in days], RED)
    assert w.statuses() == ["INGESTED"] * 3
    files = w.files()
    # with the collection's bands, nothing is wrong
    assert reconcile(w.tiles(), files, delete=True, s3_bucket=w.bucket, bands=RED).empty
    try:
        plan = reconcile(w.tiles(), files, delete=True, s3_bucket=w.bucket)
    except ValidationError:
        return  # refused ("pass bands="): fine
    assert _deleted(plan) == []  # today: all three (looked for t/NN/red.tif)


def test_a_band_renamed_after_ingestion_deletes_nothing(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    days = _days(3)
    w = world([f"{d}/B04.tif" for d in days], [f"{d}/(BAND).tif" for d in days], RED)
    collection = w.client.get_collection(w.cid)
    renamed = {"r": collection["additionalData"]["bands"]["red"]}  # allowed once tiles exist
    w.client.update_collection(
        w.cid, {"name": w.bucket, "s3Bucket": w.bucket, "additionalData": {"bands": renamed}}
    )
    args = ["reconcile", w.cid, f"s3://{w.bucket}/", "--pattern", PATTERN, "--delete"]
    main([*args, "--apply", *w.account()])  # 3 deletions: under --delete-limit 5
    out = capsys.readouterr().out
    assert w.paths() == [f"{d}/(BAND).tif" for d in days], out  # today: none left


def _no_extension(world: Any) -> World:
    """Tiles ``t/NN/(BAND)`` (no extension: allowed), ingested from ``t/NN/B01.tif``."""
    w = world(["t/01/B01.tif", "t/02/B01.tif"], ["t/01/(BAND)", "t/02/(BAND)"])
    assert w.statuses() == ["INGESTED", "INGESTED"]
    return w


def test_a_path_without_extension_is_not_gone_from_a_listing_of_all_keys(world: Any) -> None:
    w = _no_extension(world)
    tiles = w.tiles()  # loaded before the listing, as the command line does
    files = read_bucket(f"s3://{w.bucket}/", s3=w.s3, suffix=None, progress=False)
    assert sorted(files["key"]) == ["t/01/B01.tif", "t/02/B01.tif"]
    plan = reconcile(tiles, files, delete=True, bands={}, s3_bucket=w.bucket)
    assert _deleted(plan) == []  # today: both tiles


def test_the_files_of_a_path_without_extension_are_in_use(world: Any) -> None:
    w = _no_extension(world)
    files = w.files()
    plan = reconcile(w.tiles(), files, s3_bucket=w.bucket)
    assert "unused-file" not in set(plan["reason"])  # today: both files "unused"
    plan = reconcile(w.tiles(), files, pattern=PATTERN, s3_bucket=w.bucket)
    assert "create" not in set(plan["action"])  # today: t/01/(BAND).tif, t/02/(BAND).tif


# --- the tiles frame ------------------------------------------------------------------


def test_a_tile_twice_in_the_frame_is_not_its_own_duplicate(world: Any) -> None:
    w = _simple(world, 3)
    first = w.tiles()
    second = w.tiles()  # e.g. a bbox load and a status load that share tiles
    both = pd.concat([first, second.iloc[:2]])
    files = w.files()
    try:
        plan = reconcile(both, files, delete=True, bands={}, s3_bucket=w.bucket)
        apply_plan(plan, both, w.client, progress=False)
    except ValidationError:
        pass  # refused: fine
    assert w.paths() == [f"{d}/(BAND).tif" for d in _days(3)]  # today: only t/03 left


def test_paths_differing_in_extension_are_not_duplicates(world: Any) -> None:
    w = world(["c/B01.tif", "c/B01.tiff"], ["c/(BAND).tif", "c/(BAND).tiff"])
    assert w.statuses() == ["INGESTED", "INGESTED"]  # each ingested from its own file
    plan = reconcile(w.tiles(), w.files(), delete=True, bands={}, s3_bucket=w.bucket)
    assert _deleted(plan) == []  # today: c/(BAND).tiff, "same path as tile ..."


def test_a_path_edit_never_pushed_deletes_nothing(world: Any) -> None:
    w = _simple(world, 3)
    tiles = w.tiles()
    tiles.loc[tiles.index[0], "path"] = "moved/01/(BAND).tif"  # a draft of a move
    with pytest.raises(ValidationError):
        byocframe.push(tiles, w.client, dry_run=True)  # push refuses the edit ...
    try:
        plan = reconcile(tiles, w.files(), delete=True, bands={}, s3_bucket=w.bucket)
        apply_plan(plan, tiles, w.client, progress=False)
    except ValidationError:
        pass  # ... reconcile refusing it too: fine
    assert w.paths() == [f"{d}/(BAND).tif" for d in _days(3)]  # today: t/01 deleted


def test_apply_plan_deletes_nothing_on_a_listing_of_another_bucket(world: Any) -> None:
    w = _simple(world, 3)
    other = world(["t/01/B01.tif"], [])  # another collection's bucket: t/01 only
    plan = reconcile(w.tiles(), other.files(), delete=True, bands={}, s3_bucket=other.bucket)
    # refused (the collection's s3Bucket is not the listing's): fine
    with contextlib.suppress(ValidationError):
        apply_plan(plan, w.tiles(), w.client, progress=False)
    assert w.paths() == [f"{d}/(BAND).tif" for d in _days(3)]  # today: t/02, t/03 deleted


# --- apply_plan -----------------------------------------------------------------------


def _third_gone(world: Any, edit: Any = None) -> tuple[World, Any, pd.DataFrame]:
    """Three tiles, the file of t/03 gone: the world, its tiles (``edit`` applied), the plan."""
    w = _simple(world, 3)
    w.remove("t/03/B01.tif")
    tiles = w.tiles()
    if edit is not None:
        edit(tiles)
    plan = reconcile(tiles, w.files(), delete=True, bands={}, s3_bucket=w.bucket)
    assert _deleted(plan) == ["t/03/(BAND).tif"]
    return w, tiles, plan


def test_apply_plan_writes_nothing_the_plan_does_not_hold(world: Any) -> None:
    def draft(tiles: Any) -> None:  # an edit not meant to be sent yet
        tiles.loc[tiles.index[0], "sensing_time"] += pd.Timedelta(days=100)

    w, tiles, plan = _third_gone(world, draft)
    draft_id = tiles.index[0]
    result = apply_plan(plan, tiles, w.client, progress=False)
    assert list(result["action"]) == ["delete"]  # today: ["update", "delete"]
    assert w.client.get_tile(w.cid, draft_id)["sensingTime"].startswith("2024-06-01")


def test_apply_plan_creates_every_planned_tile_or_says_which_not(world: Any) -> None:
    days = _days(3)
    w = world([f"{d}/B01.tif" for d in days], [f"{days[0]}/(BAND).tif"])
    tiles = w.tiles()
    plan = reconcile(tiles, w.files(), pattern=PATTERN, s3_bucket=w.bucket)
    assert sorted(plan.loc[plan["action"] == "create", "path"]) == [
        "t/02/(BAND).tif",
        "t/03/(BAND).tif",
    ]
    candidates = read_bucket(  # candidates of a narrower listing than the plan's
        f"s3://{w.bucket}/t/02", s3=w.s3, pattern=PATTERN, progress=False
    )
    try:
        result = apply_plan(plan, tiles, w.client, candidates=candidates, progress=False)
    except ValidationError:
        return  # refused before sending: fine
    assert (result["action"] == "create").sum() == 2  # today: 1; t/03 silently skipped


def test_apply_plan_keeps_a_tile_reingested_since_the_plan(world: Any) -> None:
    w, tiles, plan = _third_gone(world)
    # meanwhile a colleague puts the file back and reingests the tile
    w.put("t/03/B01.tif")
    tid = plan.loc[plan["action"] == "delete", "id"].iloc[0]
    w.client.reingest_tile(w.cid, tid)
    assert w.client.get_tile(w.cid, tid)["status"] == "INGESTED"
    result = apply_plan(plan, tiles, w.client, progress=False)
    assert "t/03/(BAND).tif" in w.paths(), result  # today: deleted ("ok")


def test_apply_plan_of_another_frame_is_refused_by_name(world: Any) -> None:
    w, tiles, plan = _third_gone(world)
    with pytest.raises(ValidationError):
        apply_plan(plan, tiles.iloc[:1], w.client, progress=False)
    assert len(w.paths()) == 3


def test_a_plan_applied_twice_changes_nothing_the_second_time(world: Any) -> None:
    """Held: a rerun (e.g. after a crash) finds the creates made and the deletes done."""
    days = _days(3)
    w = world([f"{d}/B01.tif" for d in days], [f"{d}/(BAND).tif" for d in days[:2]])
    w.remove("t/01/B01.tif")
    tiles = w.tiles()
    plan = reconcile(tiles, w.files(), pattern=PATTERN, delete=True, bands={}, s3_bucket=w.bucket)
    assert sorted(zip(plan["action"], plan["path"], strict=True)) == [
        ("create", "t/03/(BAND).tif"),
        ("delete", "t/01/(BAND).tif"),
    ]
    first = apply_plan(plan, tiles, w.client, progress=False)
    assert set(first["outcome"]) == {"ok"}
    again = apply_plan(plan, tiles, w.client, progress=False)
    assert set(again["outcome"]) == {"unchanged"}
    assert w.paths() == ["t/02/(BAND).tif", "t/03/(BAND).tif"]


def test_a_plan_with_rows_dropped_deletes_only_the_rows_kept(world: Any) -> None:
    """Held: a plan edited by the user (a delete row dropped) deletes only what it holds."""
    w = _simple(world, 4)
    for day in _days(3):
        w.remove(f"{day}/B01.tif")
    tiles = w.tiles()
    plan = reconcile(tiles, w.files(), delete=True, bands={}, s3_bucket=w.bucket)
    assert len(_deleted(plan)) == 3
    kept = plan[plan["path"] != "t/02/(BAND).tif"]
    apply_plan(kept, tiles, w.client, progress=False)
    assert w.paths() == ["t/02/(BAND).tif", "t/04/(BAND).tif"]


# --- the command lines ----------------------------------------------------------------


@pytest.mark.parametrize(("limit", "gone", "sent"), [(2, 2, True), (2, 3, False), (0, 1, False)])
def test_the_delete_limit_counts_exactly(
    world: Any, capsys: pytest.CaptureFixture[str], limit: int, gone: int, sent: bool
) -> None:
    """Held: up to --delete-limit deletions go unasked, one more is refused."""
    w = _simple(world, 4)
    for day in _days(gone):
        w.remove(f"{day}/B01.tif")
    args = ["reconcile", w.cid, f"s3://{w.bucket}/", "--pattern", PATTERN, "--delete"]
    code = main([*args, "--apply", "--delete-limit", str(limit), *w.account()])
    assert (code == 0) is sent
    assert len(w.paths()) == (4 - gone if sent else 4)
    if not sent:
        assert f"--confirm-deletes {gone}" in capsys.readouterr().err


def test_a_confirmed_count_confirms_only_the_plan_that_was_read(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    days = _days(12)
    w = _simple(world, 12)
    for day in days[:6]:
        w.remove(f"{day}/B01.tif")
    args = ["reconcile", w.cid, f"s3://{w.bucket}/", "--pattern", PATTERN, "--delete"]
    assert main([*args, *w.account()]) == 0
    assert capsys.readouterr().out.startswith("6 deletions")  # the plan the user read
    for day in days[:6]:  # before --apply: those files come back, six others go
        w.put(f"{day}/B01.tif")
    for day in days[6:]:
        w.remove(f"{day}/B01.tif")
    main([*args, "--apply", "--confirm-deletes", "6", *w.account()])
    assert len(w.paths()) == 12  # today: t/07..t/12 deleted, never shown to the user


def test_cli_reconcile_keeps_every_spelling_of_a_path_and_adds_no_twin(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = ["c/01/(BAND).tif", "c/01/(BAND).tiff", "t/01/(BAND)", "t/02/(BAND)"]
    keys = ["c/01/B01.tif", "c/01/B01.tiff", "t/01/B01.tif", "t/02/B01.tif"]
    w = world(keys, paths)
    assert w.statuses() == ["INGESTED"] * 4
    pattern = r"(?:t|c)/(?P<day>\d\d)/(BAND)\.tiff?"
    args = ["reconcile", w.cid, f"s3://{w.bucket}/", "--pattern", pattern, "--delete"]
    main([*args, "--apply", *w.account()])
    out = capsys.readouterr().out
    assert w.paths() == sorted(paths), out  # today: .tiff gone, two .tif twins added


def test_push_delete_missing_asks_before_deleting_more_than_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with byocframe.local_service(demo=True, demo_tiles=20) as service:
        account = _account(service)
        cid = service.demo_collection
        path = tmp_path / "tiles.parquet"
        assert main(["tiles", cid, "-o", str(path), *account]) == 0
        frame = byocframe.read_file(path)
        byocframe.write_file(frame.iloc[6:], path)  # six rows lost, e.g. by a bad filter
        main(["push", cid, str(path), "--delete-missing", *account])
        left = len(list(service.client().iter_tiles(cid)))
    assert left == 20, capsys.readouterr().out  # today: 14 (six deleted, exit 0)


@pytest.mark.parametrize(
    ("action", "with_id"), [("delete", False), ("reingest", False), ("remove", True)]
)
def test_a_plan_row_apply_plan_cannot_carry_out_is_refused(
    world: Any, action: str, with_id: bool
) -> None:
    """Noted by the attack: a row set by hand to delete a file (no tile id), or to an
    unknown action, was ignored without a word. Now refused, before anything is sent."""
    w, tiles, plan = _third_gone(world)
    edited = plan.copy()
    edited.loc[len(edited)] = {
        "action": action,
        "reason": "by hand",
        "id": tiles.index[0] if with_id else None,
        "path": "t/01/(BAND).tif",
        "files": ["t/01/B01.tif"],
        "detail": "",
    }
    with pytest.raises(ValidationError, match=action):
        apply_plan(edited, tiles, w.client, progress=False)
    assert len(w.paths()) == 3  # the plan's own delete was not sent either
