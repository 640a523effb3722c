"""Errors a library logs while it reads for us are collected on that thread only."""

from __future__ import annotations

import logging
import threading

from byocframe.log_capture import collect_errors


def test_errors_are_collected_and_kept_out_of_the_log(caplog):
    log = logging.getLogger("byocframe-test.reader")
    with caplog.at_level(logging.DEBUG, logger="byocframe-test.reader"):
        with collect_errors("byocframe-test.reader") as errors:
            log.error("circular IFD chain at %d", 8)
            log.warning("a repaired tag")  # below ERROR: dropped while collecting
        log.error("after: logged as usual")
    assert errors == ["circular IFD chain at 8"]
    assert [r.getMessage() for r in caplog.records] == ["after: logged as usual"]


def test_other_threads_log_as_usual(caplog):
    log = logging.getLogger("byocframe-test.shared")
    inside, logged = threading.Event(), threading.Event()

    def other() -> None:
        inside.wait(5)
        log.error("from another thread")
        logged.set()

    thread = threading.Thread(target=other)
    thread.start()
    with caplog.at_level(logging.ERROR, logger="byocframe-test.shared"):
        with collect_errors("byocframe-test.shared") as errors:
            inside.set()
            assert logged.wait(5)
        thread.join()
    assert errors == []
    assert [r.getMessage() for r in caplog.records] == ["from another thread"]


def test_nested_collections_each_get_their_own():
    log = logging.getLogger("byocframe-test.nested")
    with collect_errors("byocframe-test.nested") as outer:
        with collect_errors("byocframe-test.nested") as inner:
            log.error("inner")
        log.error("outer")
    assert (outer, inner) == (["outer"], ["inner"])
