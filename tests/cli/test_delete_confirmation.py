"""``byocframe push --delete-missing`` asks before deleting many tiles, as ``reconcile`` does.

More than ``--delete-limit`` deletions need ``--confirm-deletes COUNT:CODE``, the code
of the very tiles the dry run listed: sha256 of the collection id and the sorted tile
ids, its first 8 hex digits (``docs/design/cli.md``). Every test runs the command line
against a local service with 20 demo tiles.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import byocframe
from byocframe.cli import DELETE_LIMIT, main


@pytest.fixture
def service() -> Iterator[Any]:
    with byocframe.local_service(demo=True, demo_tiles=20) as running:
        yield running


def _account(service: Any) -> list[str]:
    return [
        *("--base-url", service.base_url, "--token-url", service.token_url),
        *("--client-id", service.client_id, "--client-secret", service.client_secret),
    ]


def _code(cid: str, ids: list[str]) -> str:
    """The documented code, computed here from the ids the test dropped."""
    text = "\n".join([cid, *sorted(ids)])
    return f"{len(ids)}:{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _ids(service: Any) -> list[str]:
    return sorted(t["id"] for t in service.client().iter_tiles(service.demo_collection))


def _file_without(service: Any, path: Path, drop: int, *, bare: bool = False) -> list[str]:
    """``byocframe tiles`` into ``path``, then ``drop`` rows removed; their ids.

    ``bare``: without the ``loaded`` column, as a table built by hand.
    """
    assert main(["tiles", service.demo_collection, "-o", str(path), *_account(service)]) == 0
    frame = byocframe.read_file(path)
    kept = frame.iloc[drop:]  # rows lost, e.g. by a bad filter
    byocframe.write_file(kept.drop(columns="loaded") if bare else kept, path)
    return sorted(str(tid) for tid in frame.index[:drop])


def test_push_deleting_more_than_the_limit_is_refused_then_confirmed(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tiles.parquet"
    dropped = _file_without(service, path, 6)
    before = _ids(service)
    code = _code(service.demo_collection, dropped)
    push = ["push", service.demo_collection, str(path), "--delete-missing", *_account(service)]
    capsys.readouterr()
    assert main(push) == 1  # 6 > DELETE_LIMIT (5): nothing sent
    err = capsys.readouterr().err
    assert f"the plan deletes 6 tiles, more than --delete-limit {DELETE_LIMIT}" in err
    assert f"add --confirm-deletes {code}" in err
    assert len(err.strip().splitlines()) == 1
    assert main([*push, "--confirm-deletes", "6"]) == 1  # a bare count
    err = capsys.readouterr().err
    assert "--confirm-deletes 6 is a count, not a plan" in err
    assert f"give --confirm-deletes {code}" in err
    assert _ids(service) == before
    # the dry run lists every deletion first, then the line to confirm them
    assert main([*push, "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("would update 0 / would create 0 / would delete 6")
    assert sorted(lines[1:7]) == [f"  {tid}: would delete: delete" for tid in dropped]
    assert lines[-1] == (
        f"6 deletion(s), more than --delete-limit {DELETE_LIMIT}: to delete exactly these "
        f"tiles, add --confirm-deletes {code}"
    )
    assert main([*push, "--confirm-deletes", code]) == 0
    assert _ids(service) == sorted(set(before) - set(dropped))


def test_push_deleting_within_the_limit_goes_unasked(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tiles.parquet"
    dropped = _file_without(service, path, 3)
    before = _ids(service)
    push = ["push", service.demo_collection, str(path), "--delete-missing", *_account(service)]
    assert main([*push, "--delete-limit", "2"]) == 1  # a lower limit of one's own
    assert "more than --delete-limit 2" in capsys.readouterr().err
    assert _ids(service) == before
    assert main([*push, "--delete-limit", "3"]) == 0  # up to the limit: unasked
    assert _ids(service) == sorted(set(before) - set(dropped))
    # without --delete-missing nothing is deleted and no confirmation is asked
    second = _file_without(service, path, 10)
    assert main(push[:3] + push[4:]) == 0
    assert len(_ids(service)) == 17
    # nor taken: a confirmation there would confirm nothing, so it is refused
    assert main([*push[:3], *push[4:], "--confirm-deletes", _code("x", second)]) == 1
    assert "add --delete-missing, or leave --confirm-deletes out" in capsys.readouterr().err


def test_push_of_a_plan_changed_since_the_dry_run_is_refused(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table without ``loaded`` is compared with the collection as it is at each run."""
    cid = service.demo_collection
    path = tmp_path / "tiles.csv"
    dropped = _file_without(service, path, 6, bare=True)
    push = ["push", cid, str(path), "--delete-missing", *_account(service)]
    capsys.readouterr()
    assert main([*push, "--dry-run"]) == 0
    read = re.findall(r"--confirm-deletes (\d+:[0-9a-f]{8})", capsys.readouterr().out)
    assert read == [_code(cid, dropped)]
    # meanwhile a colleague deletes one of the six and adds a tile the file lacks: the
    # added tile was never in the file's load, so it is not deleted (finding 103), and
    # five deletions are not the six that were read
    client = service.client()
    client.delete_tile(cid, dropped[0])
    added = client.create_tile(cid, {"path": "colleague/(BAND).tif"})["id"]
    now = _code(cid, dropped[1:])
    assert now.startswith("5:")
    before = _ids(service)
    assert main([*push, "--confirm-deletes", read[0]]) == 1
    err = capsys.readouterr().err
    assert "the plan changed since it was read: it deletes 5 tile(s) now" in err
    assert f"give --confirm-deletes {now}" in err
    assert len(err.strip().splitlines()) == 1
    assert _ids(service) == before  # the colleague's tile is still there
    # the code of the plan as it is now deletes exactly what it lists
    assert main([*push, "--confirm-deletes", now]) == 0
    assert _ids(service) == sorted(set(before) - set(dropped[1:]))
    assert added in _ids(service)
