"""The garbage collector's setting for a driver's run (``run/collector.py``)."""

from __future__ import annotations

import gc

import pytest

from logscrub.run.collector import YOUNG, few_collections


def test_a_run_collects_young_objects_less_often_and_leaves_the_collector_as_it_found_it():
    before, frozen = gc.get_threshold(), gc.get_freeze_count()  # 375 at start-up on Python 3.12, else 0
    with few_collections():
        assert gc.get_threshold() == (YOUNG, *before[1:])
        if frozen == 0:
            assert gc.get_freeze_count() > 0  # what was loaded before the run
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)


def test_what_a_caller_froze_stays_frozen_and_an_error_restores_the_threshold():
    before = gc.get_threshold()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with pytest.raises(SystemExit), few_collections():
            raise SystemExit(1)  # as the worker's faust exits
        # Thawed, the count would be 0; frozen again, higher. A frozen object freed meanwhile (another
        # test's thread, the exception's frames) leaves it a little lower (CI, 1 December: by 2 of 272,137).
        assert frozen - 100 <= gc.get_freeze_count() <= frozen and gc.get_threshold() == before
    finally:
        gc.unfreeze()


def test_cycles_are_still_collected():
    class Node:
        pass

    with few_collections():
        gc.collect()
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2
