"""Decoding many stored rows at once without the cyclic garbage collector running over and over.

A fresh process's first collapsed view decodes 10,000 part summaries (hundreds of thousands of dicts,
lists and strings, topology/hostviews.py). Each allocation counts towards a collection, and each full
collection walks every object alive, the ones just decoded included: at 10,000 hosts that was most of
the decode's time (docs/benchmarks.md, "The collapsed view's first answer at 10,000 hosts"). What is
decoded from JSON holds no reference cycles, so nothing is lost by leaving it to the collections after.

The collector is paused while any thread is inside :func:`collector_paused` (a count, so two requests
overlapping do not turn it back on under each other) and only if it was running when the first came in.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_inside = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    global _inside, _resume
    with _lock:
        if _inside == 0:
            _resume = gc.isenabled()
            gc.disable()
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0 and _resume:
                promote_survivors()
                gc.enable()


def promote_survivors() -> None:
    """What the window made and kept goes to the oldest generation at once (freeze, then unfreeze: two list
    merges), instead of the young generation's next collection walking all of it on the request's time;
    the next full collection sees it, as it would have. Not when something else froze objects: it keeps them."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
