"""`reconcile(delete=True)` deletes a tile only on a listing that covers its files.

A collection of six tiles in its own bucket (two under ``t/2025-01/``, four under
``t/2025-02/``), listed in the ways that used to plan deletions: a prefix, an empty
folder, another bucket; and through the command line, which must compare the URL with
the collection's ``s3Bucket`` and ask before deleting more than a few tiles, with a
code that names the tiles of the plan read (``--confirm-deletes COUNT:CODE``).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import byocframe
from byocframe.bucket.files import read_bucket
from byocframe.bucket.reconcile import reconcile
from byocframe.cli import main
from byocframe.emulator.cogs import write_cog
from byocframe.exceptions import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")

PATTERN = r"t/(?P<year>\d{4})-(?P<month>\d\d)/(?P<day>\d\d)/(BAND)\.tif"
BANDS = {
    "B01": {"sampleFormat": "UINT", "bitDepth": 8},
    "B02": {"sampleFormat": "UINT", "bitDepth": 8},
}
DAYS = ["2025-01/01", "2025-01/02", "2025-02/01", "2025-02/02", "2025-02/03", "2025-02/04"]
_names = (f"reg-safety-{n}" for n in itertools.count())


@pytest.fixture(scope="module")
def files_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small valid COGs for each of the six tiles."""
    folder = tmp_path_factory.mktemp("six-tiles")
    for day in DAYS:
        for band in BANDS:
            write_cog(folder / "t" / day / f"{band}.tif", size=256, blocksize=256)
    return folder


@pytest.fixture(scope="module")
def service(local_s3: Any) -> Iterator[Any]:
    with byocframe.local_service(s3=local_s3) as running:
        yield running


class Setup:
    """A fresh bucket holding the six tiles' files, and a collection on it, ingested."""

    def __init__(self, service: Any, folder: Path):
        self.service = service
        self.folder = folder
        self.bucket = next(_names)
        service.s3.upload_folder(folder, self.bucket)
        self.client = service.client()
        body = {"name": "six", "s3Bucket": self.bucket, "additionalData": {"bands": BANDS}}
        self.cid = self.client.create_collection(body)["id"]
        for day in DAYS:
            self.client.create_tile(self.cid, {"path": f"t/{day}/(BAND).tif"})
        assert [t["status"] for t in self.client.iter_tiles(self.cid)] == ["INGESTED"] * 6
        self.s3 = service.s3.client()

    def tiles(self) -> Any:
        return byocframe.read_tiles(self.client, self.cid, progress=False)

    def paths(self) -> list[str]:
        return sorted(t["path"] for t in self.client.iter_tiles(self.cid))

    def files(self, url: str | Path) -> Any:
        return read_bucket(url, s3=self.s3, progress=False)

    def remove(self, day: str, band: str = "B01") -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=f"t/{day}/{band}.tif")

    def account(self) -> list[str]:
        service = self.service
        return [
            *("--base-url", service.base_url, "--token-url", service.token_url),
            *("--client-id", service.client_id, "--client-secret", service.client_secret),
        ]


@pytest.fixture
def six(service: Any, files_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    for name, value in service.s3.environment().items():
        monkeypatch.setenv(name, value)  # the command line finds the local S3 as a user's
    return Setup(service, files_folder)


def _deleted(plan: Any) -> list[str]:
    return sorted(plan.loc[plan["action"] == "delete", "path"])


def test_prefix_listing_deletes_only_tiles_under_the_prefix(six: Setup) -> None:
    six.remove("2025-01/02")
    tiles = six.tiles()  # loaded before the listing: every tile existed when it began
    files = six.files(f"s3://{six.bucket}/t/2025-01")
    plan = reconcile(tiles, files, pattern=PATTERN, delete=True, bands={}, s3_bucket=six.bucket)
    # the tile under the prefix whose file is gone, nothing of the four outside it
    assert _deleted(plan) == ["t/2025-01/02/(BAND).tif"]
    detail = plan.loc[plan["action"] == "delete", "detail"].iloc[0]
    assert detail.startswith(
        f"1 of 2 files are not in the listing of s3://{six.bucket}/t/2025-01 at "
    )
    outside = plan[plan["reason"] == "unlisted"]
    assert sorted(outside["path"]) == [f"t/{day}/(BAND).tif" for day in DAYS[2:]]
    assert (outside["action"] == "none").all()
    assert outside["detail"].str.contains(f"s3://{six.bucket}/t/2025-01").all()


def test_a_listing_changed_after_it_was_read_is_no_evidence(six: Setup) -> None:
    files = six.files(f"s3://{six.bucket}/")
    some = files[files["key"].str.startswith("t/2025-01/")]  # the attrs survive a filter
    with pytest.raises(ValidationError, match="not the listing read_bucket returned"):
        reconcile(six.tiles(), some, delete=True, bands={}, s3_bucket=six.bucket)


def test_empty_listings_never_plan_a_deletion(six: Setup, tmp_path: Path) -> None:
    tiles = six.tiles()
    with pytest.raises(ValidationError, match="a local folder is not the collection's bucket"):
        reconcile(tiles, six.files(tmp_path), delete=True, bands={}, s3_bucket=six.bucket)
    empty = six.files(f"s3://{six.bucket}/nothing-here/")
    with pytest.raises(ValidationError, match=r"listing of s3://.*/nothing-here/ is empty"):
        reconcile(tiles, empty, delete=True, bands={}, s3_bucket=six.bucket)
    # without the collection's bucket to compare with, a delete is refused too
    with pytest.raises(ValidationError, match="pass s3_bucket="):
        reconcile(tiles, six.files(f"s3://{six.bucket}/"), delete=True, bands={})


def test_a_folder_listing_without_etags_plans_no_reingest(six: Setup, tmp_path: Path) -> None:
    for day in DAYS[:2]:  # a local copy of January's files: a folder lists no ETags
        for band in BANDS:
            key = f"t/{day}/{band}.tif"
            (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
            six.s3.download_file(six.bucket, key, str(tmp_path / key))
    plan = reconcile(six.tiles(), six.files(tmp_path), pattern=PATTERN, s3_bucket=six.bucket)
    assert "reingest" not in set(plan["action"])
    assert "delete" not in set(plan["action"])


def test_another_buckets_listing_is_refused(six: Setup, service: Any, files_folder: Path) -> None:
    other = next(_names)
    service.s3.upload_folder(files_folder / "t" / "2025-02", other, prefix="t/2025-02/")
    files = six.files(f"s3://{other}/")
    with pytest.raises(ValidationError, match=f"lists s3://{other}/, not the collection's"):
        reconcile(six.tiles(), files, delete=True, bands={}, s3_bucket=six.bucket)
    # a CDSE bucket name (PROJECT_ID:bucket) is the same bucket
    plan = reconcile(six.tiles(), six.files(f"s3://{six.bucket}/"), s3_bucket=f"p:{six.bucket}")
    assert plan.empty


def test_cli_with_a_narrower_prefix_keeps_the_tiles_outside_it(
    six: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["reconcile", six.cid, f"s3://{six.bucket}/t/2025-01", "--pattern", PATTERN]
    assert main([*args, "--apply", "--delete", *six.account()]) == 0
    assert six.paths() == [f"t/{day}/(BAND).tif" for day in DAYS]
    out = capsys.readouterr().out
    assert "0 deletions" in out
    assert "4 tiles outside the listing" in out


def test_cli_refuses_a_url_of_another_bucket(
    six: Setup, service: Any, files_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = next(_names)  # holds February's files only: January's tiles look gone
    service.s3.upload_folder(files_folder / "t" / "2025-02", other, prefix="t/2025-02/")
    args = ["reconcile", six.cid, f"s3://{other}/", "--pattern", PATTERN]
    assert main([*args, "--apply", "--delete", *six.account()]) == 1
    err = capsys.readouterr().err
    assert f"s3://{other}/ is not the collection's bucket {six.bucket}" in err
    assert len(err.strip().splitlines()) == 1
    assert len(six.paths()) == 6


def test_a_pattern_matching_no_file_is_an_error(
    six: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    files = six.files(f"s3://{six.bucket}/")
    with pytest.raises(ValidationError, match=r"matches none of the 12 listed keys"):
        reconcile(six.tiles(), files, pattern=r"tiles/(BAND)\.tif", s3_bucket=six.bucket)
    args = ["reconcile", six.cid, f"s3://{six.bucket}/", "--pattern", r"x/(BAND)\.tif"]
    assert main([*args, *six.account()]) == 1
    err = capsys.readouterr().err
    assert "matches none of the 12 listed keys (e.g. 't/2025-01/01/B01.tif')" in err


def _code(cid: str, ids: list[str]) -> str:
    """The documented code of a deletion: sha256 of the collection and sorted ids, 8 hex."""
    text = "\n".join([cid, *sorted(ids)])
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _ids(six: Setup, days: list[str]) -> list[str]:
    """The ids of the tiles of ``days``, from the service."""
    paths = {f"t/{day}/(BAND).tif" for day in days}
    return [t["id"] for t in six.client.iter_tiles(six.cid) if t["path"] in paths]


def _printed(text: str) -> str:
    """The COUNT:CODE a dry run or a refusal printed."""
    found = re.findall(r"--confirm-deletes (\d+:[0-9a-f]{8})\b", text)
    assert len(set(found)) == 1, text
    return found[0]


def test_deleting_more_than_the_limit_needs_the_plans_code(
    six: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    for day in DAYS:
        six.remove(day)
    code = f"6:{_code(six.cid, _ids(six, DAYS))}"
    args = ["reconcile", six.cid, f"s3://{six.bucket}/", "--pattern", PATTERN, "--delete"]
    assert main([*args, *six.account()]) == 0  # the dry run: deletions first, counted, coded
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "6 deletions, 0 creates, 0 reingests, 0 left alone"
    assert [line.split()[0] for line in lines[1:7]] == ["delete"] * 6
    assert lines[7] == (
        f"6 deletion(s), more than --delete-limit 5: to delete exactly these tiles, add "
        f"--confirm-deletes {code}"
    )
    # more than 5 (the default --delete-limit): refused without the plan's code
    assert main([*args, "--apply", *six.account()]) == 1
    err = capsys.readouterr().err
    assert _printed(err) == code
    assert len(err.strip().splitlines()) == 1
    # a bare count confirms any six deletions: refused, with the code to give
    assert main([*args, "--apply", "--confirm-deletes", "6", *six.account()]) == 1
    err = capsys.readouterr().err
    assert "--confirm-deletes 6 is a count, not a plan" in err
    assert _printed(err) == code
    assert len(err.strip().splitlines()) == 1
    wrong = [f"5:{code[2:]}", f"6:{_code(six.cid, _ids(six, DAYS[:5]))}", "6:00000000"]
    for given in wrong:
        assert main([*args, "--apply", "--confirm-deletes", given, *six.account()]) == 1
        assert "the plan changed since it was read" in capsys.readouterr().err
    assert len(six.paths()) == 6
    upper = code.upper()  # as read aloud or retyped: the code is hex in any case
    assert main([*args, "--apply", "--confirm-deletes", upper, *six.account()]) == 0
    assert six.paths() == []


def test_a_plan_changed_since_the_dry_run_is_refused(
    six: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """Finding 35 with --delete-limit 1: the same count, other tiles, another code."""
    january, february = DAYS[:2], DAYS[2:4]
    for day in january:
        six.remove(day)
    args = ["reconcile", six.cid, f"s3://{six.bucket}/", "--pattern", PATTERN, "--delete"]
    args += ["--delete-limit", "1", *six.account()]
    assert main(args) == 0
    read = _printed(capsys.readouterr().out)  # the plan the user read: January's two
    assert read == f"2:{_code(six.cid, _ids(six, january))}"
    for day in january:  # before --apply: January's files come back, two of February go
        for band in BANDS:
            six.s3.upload_file(str(six.folder / "t" / day / f"{band}.tif"), six.bucket,
                               f"t/{day}/{band}.tif")  # fmt: skip
    for day in february:
        six.remove(day)
    assert main([*args, "--apply", "--confirm-deletes", read]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert "the plan changed since it was read: it deletes 2 tile(s) now" in captured.err
    now = _printed(captured.err)
    assert now == f"2:{_code(six.cid, _ids(six, february))}"
    deleting = [line for line in captured.out.splitlines() if line.startswith("delete")]
    assert [line.split()[2] for line in deleting] == [  # the plan read again, printed first
        f"t/{day}/(BAND).tif" for day in february
    ]
    assert len(six.paths()) == 6  # nothing deleted
    # a stale code: a third tile's file goes after the plan was read again
    six.remove(DAYS[4])
    assert main([*args, "--apply", "--confirm-deletes", now]) == 1
    assert "it deletes 3 tile(s) now" in capsys.readouterr().err
    assert len(six.paths()) == 6
    # the code of the plan as it is now deletes exactly its tiles
    three = f"3:{_code(six.cid, _ids(six, [*february, DAYS[4]]))}"
    assert main([*args, "--apply", "--confirm-deletes", three]) == 0
    assert six.paths() == [f"t/{day}/(BAND).tif" for day in [*january, DAYS[5]]]


def test_deletions_within_the_limit_go_unasked(
    six: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    for day in DAYS[:2]:
        six.remove(day)
    args = ["reconcile", six.cid, f"s3://{six.bucket}/", "--pattern", PATTERN, "--delete"]
    assert main([*args, *six.account()]) == 0
    assert "2 deletion(s), within --delete-limit 5: sent unasked" in capsys.readouterr().out
    assert main([*args, "--apply", "--delete-limit", "2", *six.account()]) == 0
    assert six.paths() == [f"t/{day}/(BAND).tif" for day in DAYS[2:]]
    # a confirmation given is checked even within the limit: this one names two tiles
    # already deleted, and the plan now deletes none
    six.remove(DAYS[2])
    assert main([*args, "--apply", "--confirm-deletes", "2:00000000", *six.account()]) == 1
    assert "the plan changed since it was read: it deletes 1 tile(s) now" in (
        capsys.readouterr().err
    )
    assert len(six.paths()) == 4


def test_delete_options_refuse_malformed_values(
    six: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["reconcile", six.cid, f"s3://{six.bucket}/", "--pattern", PATTERN, "--delete"]
    for bad in (["--confirm-deletes", "yes"], ["--confirm-deletes", "6:xyz"],
                ["--delete-limit", "-1"]):  # fmt: skip
        with pytest.raises(SystemExit):
            main([*args, "--apply", *bad, *six.account()])
        assert "argument" in capsys.readouterr().err
    assert len(six.paths()) == 6


def test_creates_that_check_flags_are_not_planned(
    six: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for band in BANDS:
        good = write_cog(tmp_path / f"good-{band}.tif", size=256, blocksize=256)
        six.s3.upload_file(str(good), six.bucket, f"t/2025-03/01/{band}.tif")
        bad = write_cog(tmp_path / f"bad-{band}.tif", size=256, compress="JPEG")
        six.s3.upload_file(str(bad), six.bucket, f"t/2025-03/02/{band}.tif")
    files = six.files(f"s3://{six.bucket}/")
    plan = reconcile(six.tiles(), files, pattern=PATTERN, bands=BANDS, s3_bucket=six.bucket)
    rows = plan.set_index("path")
    assert rows.loc["t/2025-03/01/(BAND).tif", "action"] == "create"
    assert rows.loc["t/2025-03/02/(BAND).tif", ["action", "reason"]].tolist() == [
        "none",
        "fails-check",
    ]
    assert "compression" in rows.loc["t/2025-03/02/(BAND).tif", "detail"]
    args = ["reconcile", six.cid, f"s3://{six.bucket}/", "--pattern", PATTERN, "--apply"]
    assert main([*args, *six.account()]) == 0
    assert "fails-check" in capsys.readouterr().out
    assert "t/2025-03/02/(BAND).tif" not in six.paths()
    assert "t/2025-03/01/(BAND).tif" in six.paths()


class _HeadsTogether:
    """An S3 client whose first ``n`` HEADs wait until all ``n`` are in flight at once."""

    def __init__(self, real: Any, n: int):
        import threading

        self._real, self.meta = real, real.meta
        self._together = threading.Barrier(n, timeout=60)  # serial HEADs: broken, not hung
        self._lock, self._waiting = threading.Lock(), n

    def head_object(self, **kwargs: Any) -> Any:
        with self._lock:
            wait, self._waiting = self._waiting > 0, self._waiting - 1
        if wait:
            self._together.wait()
        return self._real.head_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_the_gone_files_are_looked_for_at_once_and_one_back_is_kept(six: Setup) -> None:
    """apply_plan's HEADs of the deleted tiles' files run side by side, not one by one."""
    gone = ["2025-01/01", "2025-02/01", "2025-02/03"]
    for day in gone:
        six.remove(day)
    tiles = six.tiles()
    plan = reconcile(
        tiles, six.files(f"s3://{six.bucket}"), pattern=PATTERN, delete=True, bands={},
        s3_bucket=six.bucket,
    )  # fmt: skip
    assert _deleted(plan) == [f"t/{day}/(BAND).tif" for day in gone]
    back = f"t/{gone[1]}/B01.tif"  # one file is back since the listing
    six.s3.put_object(Bucket=six.bucket, Key=back, Body=(six.folder / back).read_bytes())
    result = byocframe.apply_plan(plan, tiles, six.client, s3=_HeadsTogether(six.s3, 3))
    kept = result[result["outcome"] == "conflict"]
    assert len(kept) == 1
    assert "t/2025-02/01/B01.tif" in kept["message"].iloc[0]
    remaining = {t["path"] for t in six.client.iter_tiles(six.cid)}
    assert remaining == {f"t/{day}/(BAND).tif" for day in DAYS if day not in (gone[0], gone[2])}
