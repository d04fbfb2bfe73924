"""Pausing Python's cyclic garbage collector around bulk allocation."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Cyclic GC off inside the block, back on after (if it was on).

    For code that builds hundreds of thousands of small objects that cannot form cycles
    (token lists, their offsets): each collection the allocations trigger walks every
    container alive, a loaded SQuAD file and its token lists included, and frees nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
