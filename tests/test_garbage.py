"""``core.garbage.fewer_collections``: fewer collections while the block runs, and the
process's own settings back afterwards, also when the block fails."""

from __future__ import annotations

import gc

import pytest

from deskdrill.core.garbage import YOUNG_THRESHOLD, fewer_collections


def test_the_block_collects_seldom_and_the_settings_come_back() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with pytest.raises(ZeroDivisionError), fewer_collections():
        assert gc.get_threshold() == (max(before[0], YOUNG_THRESHOLD), *before[1:])
        assert gc.get_freeze_count() > 1000  # what was alive is left out
        raise ZeroDivisionError
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_objects_frozen_by_the_process_stay_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with fewer_collections():
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_a_process_without_collections_stays_without() -> None:
    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        with fewer_collections():
            assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
