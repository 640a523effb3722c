"""Each refusal of `reconcile` / `apply_plan` says what is wrong and what to do.

The attack tests accept any refusal where they pin a defect; these pin the message of
each refusal path that no other test names, so a refusal for the wrong reason fails.
"""

from __future__ import annotations

from typing import Any

import pytest
import test_attack_reconcile as base
import test_attack_reconcile3 as third
from test_attack_reconcile2 import third_gone

from byocframe.bucket.files import read_bucket
from byocframe.bucket.reconcile import apply_plan, reconcile
from byocframe.exceptions import BucketError, ValidationError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")

cog, service, world = base.cog, base.service, base.world
other_endpoint = third.other_endpoint


def test_a_plan_whose_attrs_were_lost_deletes_nothing(world: Any) -> None:
    w, tiles, plan = third_gone(world)
    bare = plan.copy()
    bare.attrs = {}
    with pytest.raises(ValidationError, match="does not record the bucket listing"):
        apply_plan(bare, tiles, w.client, progress=False)
    assert len(w.paths()) == 3


def test_tiles_that_do_not_name_their_collection_delete_nothing(world: Any) -> None:
    w, tiles, plan = third_gone(world)
    anonymous = tiles.copy()
    anonymous.attrs = {"byocframe": {k: v for k, v in tiles.attrs["byocframe"].items()
                                     if k != "collection"}}  # fmt: skip
    with pytest.raises(ValidationError, match="does not say which collection"):
        apply_plan(plan, anonymous, w.client, progress=False)
    assert len(w.paths()) == 3


def test_deleting_from_tiles_not_indexed_by_id_is_refused(world: Any) -> None:
    w, tiles, _ = third_gone(world)
    with pytest.raises(ValidationError, match="delete=True needs tiles as loaded"):
        reconcile(tiles.reset_index(), w.files(), delete=True, bands={}, s3_bucket=w.bucket)
    # a report only (no deletion) is still made
    assert len(reconcile(tiles.reset_index(), w.files(), bands={}, s3_bucket=w.bucket))


def test_creates_the_candidates_lack_are_refused_by_path(world: Any) -> None:
    w = world(["t/01/B01.tif", "t/02/B01.tif"], ["t/01/(BAND).tif"])
    tiles = w.tiles()
    plan = reconcile(tiles, w.files(), pattern=base.PATTERN, s3_bucket=w.bucket)
    narrow = read_bucket(f"s3://{w.bucket}/t/01", s3=w.s3, pattern=base.PATTERN, progress=False)
    with pytest.raises(ValidationError, match=r"creates 't/02/\(BAND\)\.tif', which candidates"):
        apply_plan(plan, tiles, w.client, candidates=narrow, progress=False)


def test_a_client_of_an_endpoint_without_the_bucket_is_refused(
    world: Any, other_endpoint: Any
) -> None:
    w, tiles, plan = third_gone(world)
    plan.attrs["byocframe"]["endpoint_url"] = None  # nothing recorded to compare with
    with pytest.raises(ValidationError, match="does not answer as a bucket"):
        apply_plan(plan, tiles, w.client, s3=other_endpoint, progress=False)
    assert len(w.paths()) == 3


def test_a_page_counting_keys_it_does_not_hold_is_named(world: Any) -> None:
    w = world(["t/01/B01.tif", "t/02/B01.tif"], [])

    def miscount(parsed: dict[str, Any], **_: Any) -> None:
        parsed["KeyCount"] = len(parsed.get("Contents", [])) + 1

    event = "after-call.s3.ListObjectsV2"
    w.s3.meta.events.register(event, miscount)
    try:  # the clients of the local S3 share their event hooks: taken off after
        with pytest.raises(BucketError, match="says it holds 3 keys but holds 2"):
            w.files()
    finally:
        w.s3.meta.events.unregister(event, miscount)
