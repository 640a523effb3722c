"""The ``loaded`` token codec, the sealed ids and the delete checks, each in its module.

`byocframe.frame.snapshot` once held all three; every name it had stays importable from
it and is the very object of its new home.
"""

from __future__ import annotations

import importlib

import pytest

import byocframe
from byocframe.frame import deletions, seal, snapshot, tokens
from byocframe.frame.digests import text_digest
from byocframe.frame.records import times_us
from byocframe.frame.synthetic import synthetic_tiles

#: Every name `frame.snapshot` exported before the split, and where it lives now.
HOMES = {
    "ATTRS_KEY": "records", "NAT": "records", "times_us": "records",
    "geometry_digest": "digests", "service_digest": "digests", "text_digest": "digests",
    "Drawing": "settings", "drawing": "settings", "json_safe": "settings",
    "saved_settings": "settings",
    "LOADED": "tokens", "OTHER_READ_ONLY": "tokens", "LoadedState": "tokens",
    "OldTokenError": "tokens", "current_fields": "tokens", "load_number": "tokens",
    "loaded_state": "tokens", "other_digests": "tokens", "own_tokens": "tokens",
    "require_current": "tokens", "wkb_digest": "tokens",
    "loaded_ids": "seal", "sealed_ids": "seal",
    "CHECK_FLAGS": "deletions", "LOADED_KEYS": "deletions", "DeleteChecks": "deletions",
    "checks_now": "deletions", "delete_checks": "deletions", "with_loaded_ids": "deletions",
    "stamp": "snapshot",
}  # fmt: skip


def test_snapshot_keeps_every_name():
    assert sorted(snapshot.__all__) == sorted(HOMES)


@pytest.mark.parametrize("name", sorted(HOMES))
def test_a_name_is_its_home_s_object(name):
    home = importlib.import_module(f"byocframe.frame.{HOMES[name]}")
    assert name in home.__all__
    assert getattr(snapshot, name) is getattr(home, name)


def test_moved_collection_names_still_resolve():
    from byocframe.frame import collection_state

    assert snapshot.collection_state is collection_state.collection_state


def test_the_codec_round_trips_what_stamp_wrote():
    gdf = byocframe.tiles_from_records(synthetic_tiles(4, seed=3))
    state = tokens.loaded_state(gdf)
    assert state.present.all()
    assert (state.version == tokens.TOKEN_VERSION).all()
    assert state.tile_id.tolist() == list(gdf.index)
    # what was read back is the digest of what the rows hold
    assert (state.path == text_digest(gdf["path"].to_numpy(dtype=object))).all()
    assert (state.sensing_time == times_us(gdf["sensing_time"])).all()
    now = tokens.current_fields(gdf)
    assert (now["native"] == state.native).all()
    # the delete checks from the tokens are those sealed in attrs
    recorded = deletions.delete_checks(gdf.attrs["byocframe"])
    from_tokens = deletions.token_checks(now)
    assert [recorded[t].tobytes() for t in gdf.index] == [c.tobytes() for c in from_tokens]


def test_the_seal_is_what_with_loaded_ids_wrote():
    settings = {"collection": "c1", "load": 5}
    out = deletions.with_loaded_ids(settings, ["a", "b"])
    assert out["loaded_ids_seal"] == seal.ids_seal("c1", 5, ["a", "b"])
    # another collection, load or list of ids gives another seal
    assert seal.ids_seal("c2", 5, ["a", "b"]) != out["loaded_ids_seal"]
    assert seal.ids_seal("c1", 6, ["a", "b"]) != out["loaded_ids_seal"]
    assert seal.ids_seal("c1", 5, ["a"]) != out["loaded_ids_seal"]


def test_checks_of_edited_ids_are_not_read():
    gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=2))
    settings = dict(gdf.attrs["byocframe"])
    assert len(deletions.delete_checks(settings)) == 3
    settings["loaded_ids"] = "\n".join(["x", *list(gdf.index)[1:]])
    assert deletions.delete_checks(settings) == {}
    assert not seal.sealed_ids(_with_attrs(gdf, settings))


def _with_attrs(gdf, settings):
    out = gdf.copy()
    out.attrs["byocframe"] = settings
    return out
