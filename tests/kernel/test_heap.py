"""Server processes freeze what startup built and widen the collector's generations."""

from __future__ import annotations

import gc

from services.kernel import lifecycle


def test_settle_heap_freezes_startup_objects_and_widens_generations() -> None:
    thresholds = gc.get_threshold()
    built_at_startup = [object() for _ in range(10)]  # noqa: F841 - alive when settling
    try:
        lifecycle.settle_heap()
        assert gc.get_freeze_count() >= 10
        assert gc.get_threshold() == lifecycle.GC_THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
