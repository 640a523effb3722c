"""Acknowledged writes survive ``kill -9`` of ``byocframe serve --db`` (issue 12: keep
it holding), and listings during writes stay consistent.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading

import requests
from conftest import ServiceApi

import byocframe
from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

WRITERS = 6
ACKS_BEFORE_KILL = 120


def serve(db):
    command = [sys.executable, "-m", "byocframe.cli", "serve", "--port", "0", "--db", str(db)]
    command += ["--ingestion-delay", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    base_url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
    assert base_url.startswith("http://127.0.0.1:")
    return process, base_url


def session(base_url):
    http = requests.Session()
    form = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }
    token = http.post(base_url + "/oauth/token", data=form).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def hammer(base_url, cid, cycle, acknowledged, lock, enough):
    """Writers create tiles and PUT their sensing time until the server dies."""

    def writer(k):
        http = session(base_url)
        api = f"{base_url}/api/v1/byoc/collections/{cid}/tiles"
        for i in range(10_000):
            path = f"c{cycle}/w{k}/{i}"
            try:
                created = http.post(api, json={"path": path}, timeout=5)
                if created.status_code != 201:
                    continue
                with lock:
                    acknowledged[path] = None
                tid = created.json()["data"]["id"]
                when = f"2024-03-{1 + i % 28:02d}T00:00:00Z"
                put = http.put(f"{api}/{tid}", json={"sensingTime": when}, timeout=5)
                if put.status_code == 204:
                    with lock:
                        acknowledged[path] = when.replace("Z", ".000Z")
                        if len(acknowledged) >= ACKS_BEFORE_KILL * (cycle + 1):
                            enough.set()
            except requests.RequestException:
                return  # the server was killed

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(WRITERS)]
    for thread in threads:
        thread.start()
    return threads


def test_acknowledged_writes_survive_sigkill(tmp_path):
    db = tmp_path / "byoc.sqlite"
    acknowledged: dict[str, str | None] = {}
    lock = threading.Lock()
    cid = None
    for cycle in range(2):
        process, base_url = serve(db)
        try:
            if cid is None:
                body = {"name": "durable", "s3Bucket": "b"}
                cid = (
                    session(base_url)
                    .post(base_url + "/api/v1/byoc/collections", json=body)
                    .json()["data"]["id"]
                )
            enough = threading.Event()
            threads = hammer(base_url, cid, cycle, acknowledged, lock, enough)
            assert enough.wait(timeout=60)
            os.kill(process.pid, signal.SIGKILL)  # mid-write: no clean shutdown at all
            process.wait(timeout=10)
            for thread in threads:
                thread.join(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with byocframe.local_service(db=db) as service:
        tiles = {t["path"]: t for t in service.client().iter_tiles(cid)}
    missing = [path for path in acknowledged if path not in tiles]
    reverted = [
        path
        for path, when in acknowledged.items()
        if when is not None and tiles.get(path, {}).get("sensingTime") != when
    ]
    assert len(acknowledged) >= 2 * ACKS_BEFORE_KILL
    assert missing == []
    assert reverted == []
    # nothing is left waiting: ingestion resumed what the kill interrupted
    assert {t["status"] for t in tiles.values()} <= {"FAILED", "INGESTED"}


def test_listing_while_writing_has_no_duplicates_or_gaps(service):
    api = ServiceApi(service)
    cid = api("POST", "/collections", json={"name": "busy", "s3Bucket": "b"}).json()["data"]["id"]
    for i in range(150):
        api("POST", f"/collections/{cid}/tiles", json={"path": f"before/{i:03d}"})
    stop = threading.Event()

    def writer():
        other = ServiceApi(service)
        i = 0
        while not stop.is_set() and i < 2000:
            other("POST", f"/collections/{cid}/tiles", json={"path": f"during/{i:04d}"})
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(5):
            seen, params = [], {"count": 37}
            while True:
                page = api("GET", f"/collections/{cid}/tiles", params=params).json()
                seen += [t["path"] for t in page["data"]]
                if "nextToken" not in page["links"]:
                    break
                params = {"count": 37, "viewtoken": page["links"]["nextToken"]}
            assert len(seen) == len(set(seen))  # no duplicates
            before = [p for p in seen if p.startswith("before/")]
            assert before == [f"before/{i:03d}" for i in range(150)]  # no gaps, in order
            during = [int(p.split("/")[1]) for p in seen if p.startswith("during/")]
            assert during == list(range(len(during)))  # a prefix of the writes, no holes
    finally:
        stop.set()
        thread.join()
