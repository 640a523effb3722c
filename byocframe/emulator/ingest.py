"""Ingestion of tiles from a virtual bucket: WAITING -> QUEUED -> INGESTING -> INGESTED/FAILED.

A *virtual bucket* is a manifest of files, registered with the service, mapping each
object key to what its COG header would say::

    {"tiles/2024/06/01/33U/B02.tif": {"crs": "EPSG:32633",
                                      "bounds": [399960, 5190240, 509760, 5300040],
                                      "resolution": 10, "bitDepth": 16, "sampleFormat": "UINT"}}

Ingestion resolves a tile's path against the collection's bands (``(BAND)`` is replaced
by each band's ``source``; a path without it is a folder) and fails the tile, with a
``failedIngestionCause``, when a file is missing, the files disagree, or the CRS is one
the service does not ingest.

Every step commits through `Store.change_tile`: one transaction that re-reads the tile
and writes only the fields ingestion owns (status, tile geometry, CRS, ingestion
metadata, the folder path's rewrite, a bounding-box cover when there is none), and only
while the tile is still in the ingestion attempt that was read. A PUT, DELETE or
reingest acknowledged meanwhile is therefore never reverted. A tile whose ingestion
raises anything unexpected ends FAILED with the real service's generic cause: no tile
is left WAITING.

The files come from a `FileSource` (the virtual bucket in the store by default), so
other sources (e.g. an S3 bucket) can be plugged in without touching the state machine.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import math
import re
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Protocol

from byocframe import file_rules
from byocframe.emulator.coords import transform_polygons
from byocframe.emulator.files_source import FilesSource, IngestionFailure
from byocframe.emulator.problems import ApiProblem
from byocframe.emulator.store import PENDING, Store
from byocframe.file_rules import SERVICE_MESSAGES, FileRules

__all__ = ["SUPPORTED_CRS", "UNEXPECTED_FAILURE", "FileSource", "Ingestor"]

log = logging.getLogger("byocframe.emulator")

#: The cause the real service gives when ingestion fails for a reason it does not name.
UNEXPECTED_FAILURE = file_rules.UNEXPECTED_FAILURE


class FileSource(Protocol):
    """Where ingestion finds a tile's files.

    ``files`` answers ``{key: {"crs", "bounds", "resolution", "bitDepth",
    "sampleFormat", "bands"}}`` for the keys of a bucket under a prefix.
    """

    def files(self, bucket: str, prefix: str = "") -> dict[str, dict[str, Any]]:
        """Files of ``bucket`` whose key starts with ``prefix``."""
        ...


#: CRSs the BYOC service ingests by default (COG_RULES 3; `Ingestor(rules=...)` for more).
SUPPORTED_CRS = file_rules.DEFAULT_FILE_RULES.supported_crs
_EXTENSIONS = ("", ".tif", ".tiff", ".TIF", ".TIFF")
_HEADER_SIZE = 1328


class _Failure(Exception):
    """Why a tile cannot be ingested (becomes its ``failedIngestionCause``)."""


class Ingestor:
    """Moves tiles through the ingestion states.

    Parameters
    ----------
    store : Store
        Where tile states are read and committed.
    delay : float or None
        0: a tile is ingested as soon as its create/reingest request is answered (the
        answer still says WAITING). A positive number: seconds until the final state,
        passing through QUEUED and INGESTING on a background thread. None: tiles wait
        until `run_pending` is called (step by step tests).
    clock : callable
        Seconds, for the background schedule.
    source : FileSource, optional
        Where the files are looked up; the store's virtual bucket by default.
    files : FilesSource, optional
        Real files, for the buckets that exist at its S3 endpoint: their headers are
        read and judged by the service's own code (`byocframe.emulator.judge`).
    rules : FileRules, optional
        The table the manifest mode checks CRSs against (`byocframe.file_rules`); a
        `FilesSource` has its own.
    """

    def __init__(
        self,
        store: Store,
        *,
        delay: float | None = 0.0,
        clock: Callable[[], float] | None = None,
        source: FileSource | None = None,
        files: FilesSource | None = None,
        rules: FileRules | None = None,
    ):
        import time

        self.files = files
        self.rules = rules or file_rules.DEFAULT_FILE_RULES
        self.store = store
        self.source: FileSource = source or store
        self.delay = delay
        self.clock = clock or time.monotonic
        self._queue: list[tuple[float, int, str, str, int]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        if delay:
            self._thread = threading.Thread(target=self._run, name="byoc-ingest", daemon=True)
            self._thread.start()
        if delay is not None:  # resume what a restart (or kill -9) interrupted
            for cid, tid in store.pending():
                self.submit(cid, tid)

    def submit(self, cid: str, tid: str) -> None:
        """Start ingesting a tile (now, later, or when asked, depending on ``delay``).

        Never raises: it runs after the request that created the tile was committed.
        """
        if self.delay is None:
            return
        if self.delay == 0:
            self._guarded(self.ingest, cid, tid)
            return
        with self._cond:
            step = self.delay / 3
            now = self.clock()
            for stage in (1, 2, 3):
                heapq.heappush(
                    self._queue, (now + step * stage, next(self._counter), cid, tid, stage)
                )
            self._cond.notify()

    def run_pending(self) -> int:
        """Ingest every waiting tile now; return how many were finished."""
        pending = self.store.pending()
        for cid, tid in pending:
            self._guarded(self.ingest, cid, tid)
        return len(pending)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the background thread, waiting up to ``timeout`` seconds for a tile under way.

        `byocframe.emulator.LocalService.stop` passes `Limits.stop_timeout`.
        """
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._queue or self._queue[0][0] > self.clock()):
                    timeout = self._queue[0][0] - self.clock() if self._queue else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, _, cid, tid, stage = heapq.heappop(self._queue)
            if stage == 3:
                self._guarded(self.ingest, cid, tid)
            else:
                self._guarded(self._advance, cid, tid, "QUEUED" if stage == 1 else "INGESTING")

    def _guarded(self, step: Callable[..., Any], cid: str, tid: str, *args: Any) -> None:
        """Run one step; an unexpected error fails the tile instead of leaving it pending."""
        try:
            step(cid, tid, *args)
        except ApiProblem:
            return  # the tile or its collection was deleted meanwhile
        except Exception:
            log.exception("ingestion of tile %s in collection %s failed", tid, cid)
            try:
                self._commit(cid, tid, None, {"status": "FAILED"}, UNEXPECTED_FAILURE)
            except Exception:
                log.exception("could not mark tile %s FAILED", tid)

    def _advance(self, cid: str, tid: str, status: str) -> None:
        def step(state: dict[str, Any]) -> bool:
            if state["status"] not in PENDING:
                return False
            state["status"] = status
            return True

        self.store.change_tile(cid, tid, step)

    def ingest(self, cid: str, tid: str) -> dict[str, Any] | None:
        """Finish one tile: INGESTED with its geometry and metadata, or FAILED with a cause.

        The files are resolved from a snapshot, outside any transaction; the outcome is
        committed only if the tile is still in the same attempt with the same path.
        Returns the state committed, or None when there was nothing to do.
        """
        collection = self.store.collection_doc(cid)  # no metadata: it scans every tile
        snapshot = self.store.tile_state(cid, tid)
        if snapshot["status"] not in PENDING:
            return None
        attempt = (snapshot.get("attempt", 0), snapshot["path"])
        outcome, cause, bands = self._outcome(collection, snapshot)
        try:
            return self._commit(cid, tid, attempt, outcome, cause, bands)
        except sqlite3.IntegrityError:  # the rewritten folder path is another tile's
            cause = f"Another tile of the collection already has path {outcome.get('path')!r}."
            return self._commit(cid, tid, attempt, {"status": "FAILED"}, cause)

    def ingest_new(
        self,
        collection: dict[str, Any],
        states: list[dict[str, Any]],
        claim: Callable[[str, str], bool],
        before: Callable[[int], None] | None = None,
    ) -> dict[str, Any] | None:
        """Finish new tiles, not stored yet, in order, as `ingest` right after each POST.

        Each state becomes what `ingest` would have committed on it: INGESTED with its
        geometry and metadata, or FAILED with a cause. The files of all the tiles are
        looked up in one pass (a source with ``files_many(bucket, prefixes)``, as the
        store has, answers them in one query). Nothing is written: the caller stores
        the states (`byocframe.emulator.seeding`, one transaction per chunk).

        Parameters
        ----------
        collection : dict
            The stored collection (`Store.collection_doc`).
        states : list of dict
            New tile states (`Store.new_tile_state`), changed in place.
        claim : callable
            ``claim(path, new_path)``: whether a tile may move to the folder path's
            rewrite ``new_path`` (no other tile of the collection has it); a True
            answer records the move. A False one fails the tile, as the unique path
            index fails `ingest`'s commit.
        before : callable, optional
            ``before(k)`` runs before tile ``k`` is ingested (after tile ``k - 1``
            was): its POST, e.g. the check that no tile has its path now.

        Returns
        -------
        dict or None
            The band configuration the first ingested tile gives a collection that has
            none yet (the caller stores it with the tiles), else None.

        Examples
        --------
        >>> from byocframe.emulator.validate import new_collection
        >>> store = Store()
        >>> _ = store.register_files("b", [("t/B1.tif", "EPSG:32633", 5e5, 0, 6e5, 1e5,
        ...                                 10.0, 16, "UINT", 1)])
        >>> collection = store.create_collection(new_collection({"name": "n", "s3Bucket": "b"}))
        >>> states = [store.new_tile_state(collection["id"], {"path": p}) for p in ("t", "u")]
        >>> bands = Ingestor(store).ingest_new(collection, states, lambda old, new: True)
        >>> [(s["status"], s["path"]) for s in states], list(bands)
        ([('INGESTED', 't/(BAND).tif'), ('FAILED', 'u')], ['B1'])
        """
        bucket = collection["s3Bucket"]
        real = self.files is not None and self.files.serves(bucket)
        listings = {} if real else self._listings(bucket, [_prefix(s["path"]) for s in states])
        configured = None
        for k, state in enumerate(states):
            if before is not None:
                before(k)
            try:
                listing = None if real else listings[_prefix(state["path"])]
                outcome, cause, bands = self._outcome(
                    collection, state, listing, box_cover=not state.get("cover84")
                )
            except Exception:
                log.exception("ingestion of tile %s (path %r) failed", state["id"], state["path"])
                outcome, cause, bands = {"status": "FAILED"}, UNEXPECTED_FAILURE, None
            moved = outcome.get("path", state["path"])
            if moved != state["path"] and not claim(state["path"], moved):
                cause = f"Another tile of the collection already has path {moved!r}."
                outcome, bands = {"status": "FAILED"}, None
            _finish(state, outcome, cause)
            if bands and configured is None:  # the next tiles see the collection configured
                configured = bands
                extra = {**(collection.get("additionalData") or {}), "bands": bands}
                collection = {**collection, "additionalData": extra, "isConfigured": True}
        return configured

    def _listings(self, bucket: str, prefixes: list[str]) -> dict[str, dict[str, Any]]:
        """The files under each prefix: one query when the source can, else one per prefix."""
        unique = list(dict.fromkeys(prefixes))
        many = getattr(self.source, "files_many", None)
        if many is not None:
            return dict(many(bucket, unique))
        return {prefix: self.source.files(bucket, prefix) for prefix in unique}

    def _outcome(
        self,
        collection: dict[str, Any],
        snapshot: dict[str, Any],
        listing: dict[str, dict[str, Any]] | None = None,
        *,
        box_cover: bool = True,
    ) -> tuple[dict[str, Any], str | None, dict[str, Any] | None]:
        """What ingesting the tile gives: (new fields, failure cause, bands to configure).

        ``listing``: the files under the tile's prefix when already looked up.
        ``box_cover=False`` leaves out the bounding-box cover (the tile has a cover).
        """
        bands = None
        try:
            if self.files is not None and self.files.serves(collection["s3Bucket"]):
                outcome, config, path = self.files.ingest(collection, snapshot)
                outcome.pop("coverType", None)  # the commit sets it with the cover
            else:
                found, config, path = _resolve(
                    self.source, collection, snapshot["path"], self.rules, listing
                )
                outcome = _ingested(collection["s3Bucket"], found, box_cover=box_cover)
            outcome.update(status="INGESTED", path=path)
            if not (collection.get("additionalData") or {}).get("bands"):
                bands = config
            cause = None
        except (_Failure, IngestionFailure) as failure:
            outcome, cause = {"status": "FAILED"}, str(failure)
        return outcome, cause, bands

    def _commit(
        self,
        cid: str,
        tid: str,
        attempt: tuple[int, str] | None,
        outcome: dict[str, Any],
        cause: str | None,
        bands: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Write an ingestion outcome onto the tile as it is now, in one transaction."""

        def finish(state: dict[str, Any]) -> bool:
            if state["status"] not in PENDING:
                return False
            if attempt is not None and (state.get("attempt", 0), state["path"]) != attempt:
                return False  # reingested or changed since the snapshot: a newer run decides
            _finish(state, outcome, cause)
            return True

        return self.store.change_tile(cid, tid, finish, bands=bands)


def _finish(state: dict[str, Any], outcome: dict[str, Any], cause: str | None) -> None:
    """Write an ingestion outcome onto a tile state (only the fields ingestion owns)."""
    cover = outcome.get("cover84")
    state.update({k: v for k, v in outcome.items() if k != "cover84"})
    if cover is not None and not state.get("cover84"):
        state["cover84"], state["coverType"] = cover, "Polygon"
    if cause is None:
        state.pop("failedIngestionCause", None)
    else:
        state["failedIngestionCause"] = cause
        state.pop("additionalData", None)


def _prefix(path: str) -> str:
    """The key prefix under which a tile's files are (the path up to ``(BAND)``)."""
    template = path if "(BAND)" in path else f"{path}/(BAND)"
    return template.split("(BAND)", 1)[0]


def _resolve(
    source: FileSource,
    collection: dict[str, Any],
    path: str,
    rules: FileRules,
    listing: dict[str, dict[str, Any]] | None = None,
) -> tuple[dict[str, tuple[str, dict[str, Any]]], dict[str, Any], str]:
    """Find the files of a tile: {band: (key, info)}, the band config and the final path.

    ``listing``: the source's files under the tile's prefix, when already looked up.
    """
    bucket = collection["s3Bucket"]
    bands = (collection.get("additionalData") or {}).get("bands") or {}
    template = path if "(BAND)" in path else f"{path}/(BAND)"
    prefix, suffix = template.split("(BAND)", 1)
    if listing is None:
        listing = source.files(bucket, prefix)
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    if bands:
        for name, spec in bands.items():
            key = prefix + (spec.get("source") or name) + suffix
            hit = next((key + ext for ext in _EXTENSIONS if key + ext in listing), None)
            if hit is None:
                shown = key if "." in key.rsplit("/", 1)[-1] else key + ".tif"
                raise _Failure(
                    SERVICE_MESSAGES["missing-band"].format(key=f"s3://{bucket}/{shown}")
                )
            found[name] = (hit, listing[hit])
    else:
        pattern = re.compile(
            re.escape(prefix) + r"(?P<band>[^/]+?)" + re.escape(suffix) + r"(?P<ext>\.tiff?)?$",
            re.IGNORECASE,
        )
        for key in sorted(listing):
            match = pattern.fullmatch(key)
            if match:
                found[match["band"]] = (key, listing[key])
        if not found:
            raise _Failure(f"No files found at s3://{bucket}/{template}.")
    extensions = {re.search(r"(\.[^./]+)?$", key)[0] for key, _ in found.values()}  # type: ignore[index]
    if len(extensions) > 1:
        raise _Failure(SERVICE_MESSAGES["extension"].format(found=sorted(extensions)))
    crs_set = {info["crs"] for _, info in found.values()}
    if len(crs_set) > 1:
        raise _Failure(SERVICE_MESSAGES["band-crs"].format(found=sorted(crs_set)))
    crs = crs_set.pop()
    if crs not in rules.supported_crs:
        raise _Failure(SERVICE_MESSAGES["crs"].format(crs=crs))
    config: dict[str, Any] = {}
    for name, (key, info) in found.items():
        spec = bands.get(name)
        if spec and (spec.get("bitDepth"), spec.get("sampleFormat")) != (
            info["bitDepth"],
            info["sampleFormat"],
        ):
            raise _Failure(
                SERVICE_MESSAGES["bit-depth"].format(
                    key=key,
                    dtype=f"{info['sampleFormat']}{info['bitDepth']}",
                    band=name,
                    want=f"{spec.get('sampleFormat')}{spec.get('bitDepth')}",
                )
            )
        config[name] = {
            "bitDepth": info["bitDepth"],
            "sampleFormat": info["sampleFormat"],
            "source": name,
            "bandIndex": 1,
        }
    final = path if "(BAND)" in path else f"{path}/(BAND){extensions.pop()}"
    return found, config, final


def _ingested(
    bucket: str, found: dict[str, tuple[str, dict[str, Any]]], *, box_cover: bool = True
) -> dict[str, Any]:
    """The fields ingestion owns; ``cover84`` is the bounding box, used only if no cover.

    ``box_cover=False`` leaves ``cover84`` out (the tile has a cover, which it keeps).
    """
    infos = [info for _, info in found.values()]
    crs = infos[0]["crs"]
    box = [
        min(i["bounds"][0] for i in infos),
        min(i["bounds"][1] for i in infos),
        max(i["bounds"][2] for i in infos),
        max(i["bounds"][3] for i in infos),
    ]
    resolution = min(i["resolution"] for i in infos)
    pixels = min(box[2] - box[0], box[3] - box[1]) / resolution
    levels = max(0, int(math.log2(max(pixels, 1) / 256)))
    out: dict[str, Any] = {
        "crs": crs,
        "tileBox": box,
        "additionalData": {
            "hasAddedPoints": False,
            "filesMetadata": {
                band: {
                    "headerSize": _HEADER_SIZE,
                    "etag": '"' + hashlib.md5(f"{bucket}/{key}".encode()).hexdigest() + '"',
                }
                for band, (key, _) in found.items()
            },
            "minMetersPerPixel": resolution,
            "maxMetersPerPixel": resolution * 2**levels,
        },
    }
    if box_cover:
        xmin, ymin, xmax, ymax = box
        ring = [[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax], [xmin, ymin]]
        out["cover84"] = transform_polygons([[ring]], crs, "EPSG:4326")
    return out
