"""Hypothesis strategies shared by the TFRecord tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bertkit.tfrecord import FloatList

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOAT32 = st.floats(width=32, allow_nan=True, allow_infinity=True)
NAMES = st.text(min_size=0, max_size=12)  # any Unicode, the empty name included


@st.composite
def batch_columns(draw: st.DrawFn) -> tuple[int, dict[str, object]]:
    """(N, columns for write_batch): token ids, full-range int64, scalars, floats, empty."""
    count = draw(st.integers(min_value=1, max_value=12))
    names = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
    columns: dict[str, object] = {}
    for name in names:
        kind = draw(st.sampled_from(["ids", "wide", "scalar", "float", "empty"]))
        width = draw(st.integers(min_value=1, max_value=20))
        if kind == "ids":
            columns[name] = draw(hnp.arrays(np.int64, (count, width),
                                            elements=st.integers(0, 30521)))
        elif kind == "wide":
            columns[name] = draw(hnp.arrays(np.int64, (count, width), elements=INT64))
        elif kind == "scalar":
            columns[name] = draw(hnp.arrays(np.int64, (count,), elements=INT64))
        elif kind == "float":
            columns[name] = FloatList(draw(hnp.arrays(np.float32, (count, width),
                                                      elements=FLOAT32)))
        else:
            columns[name] = np.zeros((count, 0), dtype=np.int64)
    return count, columns
