"""The optional C accelerator of the pretraining walk draws what `random.Random` draws.

`bertkit.prep.pretrain._mtrandom.MersenneTwister` replaces `random.Random` in the walk when
it was built (pip builds it where a C compiler is present). Every method is checked here
against CPython's generator, or against the pure-Python step of the walk it replaces: the
same values and the same generator state afterwards. The records of both paths are compared
in test_prep_pretrain.py.
"""

from __future__ import annotations

import random
import shutil
import sysconfig
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bertkit
from bertkit.prep.pretrain import instances
from bertkit.prep.pretrain.instances import (
    KEEP,
    MaskingRules,
    PythonTwister,
    ShardTokens,
    create_instances,
    new_generator,
    randbelow,
    shuffle_exact,
    shuffle_prefix,
)

MersenneTwister = instances.MersenneTwister


def _can_build_extensions() -> bool:
    """A C compiler and Python's headers: what pip needs to build the accelerator."""
    command = (sysconfig.get_config_var("CC") or "").split()
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    return bool(command) and shutil.which(command[0]) is not None and headers.is_file()


def test_an_installed_bertkit_has_its_accelerator_where_a_compiler_is() -> None:
    # CI installs the package (not editable) and runs pytest from the repository root:
    # bertkit then comes from site-packages, built by pip with the extension, and the
    # compiled path is the one the tests below exercise. A build that silently dropped
    # the extension fails here. A source checkout has it only once built in place.
    installed = {"site-packages", "dist-packages"} & set(Path(bertkit.__file__).resolve().parts)
    if not installed:  # a source tree, this one or an editable install's
        if MersenneTwister is None:
            pytest.skip("source checkout without the accelerator (build it in place: "
                        "python -c 'from setuptools import setup; setup()' build_ext --inplace)")
    elif not _can_build_extensions():
        pytest.skip("no C compiler or Python headers: installed without the accelerator")
    assert MersenneTwister is not None


needs_accelerator = pytest.mark.skipif(MersenneTwister is None,
                                       reason="the C accelerator is not built")


def test_the_environment_variable_forces_the_pure_python_walk(monkeypatch) -> None:
    monkeypatch.setenv("BERTKIT_PURE_PYTHON", "1")
    assert type(new_generator(5)) is PythonTwister
    monkeypatch.setenv("BERTKIT_PURE_PYTHON", "0")
    expected = PythonTwister if MersenneTwister is None else MersenneTwister
    assert type(new_generator(5)) is expected
    monkeypatch.delenv("BERTKIT_PURE_PYTHON")
    assert type(new_generator(5)) is expected


seeds = st.one_of(st.integers(-2**70, 2**70), st.integers(0, 2**600),
                  st.sampled_from([0, 1, 12345, 2**32 - 1, 2**32, -2**32, 2**64]))


@needs_accelerator
@settings(max_examples=200, deadline=None)
@given(seed=seeds)
def test_seeding_is_randoms(seed) -> None:
    ours, theirs = MersenneTwister(seed), random.Random(seed)
    assert ours.getstate() == theirs.getstate()
    ours.seed(seed + 1)
    theirs.seed(seed + 1)
    assert ours.getstate() == theirs.getstate()


# One call of the generator: (method name, argument).
calls = st.one_of(
    st.tuples(st.just("getrandbits"), st.integers(0, 130)),
    st.tuples(st.just("getrandbits"), st.integers(1, 32)),
    st.tuples(st.just("random"), st.none()),
    st.tuples(st.just("shuffle"), st.integers(0, 400)),
    st.tuples(st.just("randbelow"), st.integers(1, 2**32 - 1)),
    st.tuples(st.just("randbelow"), st.integers(1, 300)),
)


def _call(generator, name: str, argument):
    if name == "random":
        return generator.random()
    if name == "getrandbits":
        return generator.getrandbits(argument)
    if name == "randbelow":
        if type(generator) is random.Random:
            return randbelow(generator.getrandbits, argument)
        return generator.randbelow(argument)
    items = list(range(argument))
    generator.shuffle(items)
    return items


@needs_accelerator
@settings(max_examples=300, deadline=None)
@given(seed=seeds, sequence=st.lists(calls, max_size=40))
def test_interleaved_calls_draw_randoms_numbers(seed, sequence) -> None:
    ours, theirs = MersenneTwister(seed), random.Random(seed)
    for name, argument in sequence:
        assert _call(ours, name, argument) == _call(theirs, name, argument), (name, argument)
    assert ours.getstate() == theirs.getstate()


@needs_accelerator
def test_long_runs_cross_many_regenerations() -> None:
    ours, theirs = MersenneTwister(2024), random.Random(2024)
    assert [ours.getrandbits(7) for _ in range(5000)] == [theirs.getrandbits(7)
                                                         for _ in range(5000)]
    assert [ours.random() for _ in range(3000)] == [theirs.random() for _ in range(3000)]
    for size in (4095, 4096, 4097, 70_000):
        mine, expected = list(range(size)), list(range(size))
        ours.shuffle(mine)
        theirs.shuffle(expected)
        assert mine == expected
    assert ours.getrandbits(1000) == theirs.getrandbits(1000)
    assert ours.getstate() == theirs.getstate()


@needs_accelerator
@settings(max_examples=100, deadline=None)
@given(seed=seeds, skip=st.integers(0, 1300), gauss=st.booleans())
def test_state_round_trips_both_ways(seed, skip, gauss) -> None:
    theirs = random.Random(seed)
    for _ in range(skip):
        theirs.getrandbits(32)
    if gauss:
        theirs.gauss(0.0, 1.0)  # leaves a gauss_next in the state
    ours = MersenneTwister(0)
    ours.setstate(theirs.getstate())
    assert ours.getstate() == theirs.getstate()
    assert [ours.random() for _ in range(700)] == [theirs.random() for _ in range(700)]
    back = random.Random()
    back.setstate(ours.getstate())
    assert back.getrandbits(32) == theirs.getrandbits(32)


@needs_accelerator
def test_bad_arguments_raise_instead_of_drawing() -> None:
    generator = MersenneTwister(1)
    state = generator.getstate()
    with pytest.raises(ValueError):
        generator.getrandbits(-1)
    with pytest.raises(TypeError):
        generator.shuffle((3, 2, 1))
    with pytest.raises(ValueError):
        generator.randbelow(0)
    with pytest.raises(TypeError):
        MersenneTwister(1.5)
    internal = state[1]
    for bad in [(2, internal, None), (3, internal[:-1], None),
                (3, (*internal[:-1], 625), None), (3, (*internal[:-1], -1), None)]:
        with pytest.raises(ValueError):
            generator.setstate(bad)
    with pytest.raises(TypeError):
        generator.setstate((3, internal, "not a float"))
    # Positions the walk never passes: refused before a loop of 2**62 steps or a 16 GB list.
    for bad in [(0, 2**62, 0, 0, 0), (-1, 2, 0, 0, 0), (5, 2, 0, 0, 0), (0, 2, 0, 0, -1)]:
        with pytest.raises(ValueError):
            generator.truncate_pair(*bad)
    for bad in [(0, 2**32 - 1, 1), (0, 2**20 + 1, 1), (-1, 10, 1), (8, 10, 1), (0, 10, -1)]:
        with pytest.raises(ValueError):
            generator.candidate_head(*bad)
    assert generator.getstate() == state  # nothing drawn or changed by the failures


@needs_accelerator
def test_an_int_subclass_seeds_as_its_int_value() -> None:
    """CPython seeds from int's own abs(), whatever a subclass's __abs__ says."""
    class Odd(int):
        def __abs__(self) -> int:
            return 5

    assert MersenneTwister(Odd(-3)).getstate() == random.Random(Odd(-3)).getstate()


# The walk calls these methods on whichever generator it holds: the compiled one where it is
# built, PythonTwister otherwise. Both must draw what CPython's random.Random draws.
generator_classes = pytest.mark.parametrize(
    "generator_class",
    [pytest.param(PythonTwister, id="PythonTwister"),
     pytest.param(MersenneTwister, id="MersenneTwister", marks=needs_accelerator)])


@generator_classes
@settings(max_examples=300, deadline=None)
@given(seed=seeds, size=st.integers(0, 700), count=st.integers(0, 130))
def test_the_shuffle_methods_are_randoms_shuffle(generator_class, seed, size, count) -> None:
    for method in ("shuffle_prefix", "shuffle"):
        ours, theirs = generator_class(seed), random.Random(seed)
        mine, expected = list(range(size)), list(range(size))
        getattr(ours, method)(mine, *([count] if method == "shuffle_prefix" else []))
        theirs.shuffle(expected)
        if method == "shuffle":
            assert mine == expected
        assert mine[:count] == expected[:count]
        assert ours.getstate() == theirs.getstate()


@needs_accelerator
@settings(max_examples=200, deadline=None)
@given(seed=seeds, size=st.integers(0, 700), count=st.integers(0, 130))
def test_the_pure_shuffles_on_the_compiled_generators_draws(seed, size, count) -> None:
    """The module's shuffles need only getrandbits: on the compiled generator they give
    what its own C shuffles give."""
    for shuffle in (partial(shuffle_prefix, count=count), shuffle_exact):
        ours, theirs = MersenneTwister(seed), MersenneTwister(seed)
        mine, expected = list(range(size)), list(range(size))
        shuffle(ours, mine)
        theirs.shuffle(expected)
        assert mine[:count] == expected[:count]
        assert ours.getstate() == theirs.getstate()


@generator_classes
@settings(max_examples=300, deadline=None)
@given(seed=seeds, len_a=st.integers(0, 300), len_b=st.integers(0, 300),
       count=st.integers(0, 90))
def test_candidate_head_is_the_shuffled_candidate_list(generator_class, seed, len_a, len_b,
                                                       count) -> None:
    length = len_a + len_b + 3
    ours, theirs = generator_class(seed), random.Random(seed)
    candidates = [*range(1, len_a + 1), *range(len_a + 2, length - 1)]
    theirs.shuffle(candidates)
    assert ours.candidate_head(len_a, length, count) == candidates[:count]
    assert ours.getstate() == theirs.getstate()


# Google's steps written out on random.Random, as create_pretraining_data.py takes them.
def _google_replacements(rng: random.Random, count: int, mask_id: int, keep: int,
                         words: tuple[int, ...]) -> list[int]:
    shown = []
    for _ in range(count):
        if rng.random() < 0.8:
            shown.append(mask_id)
        elif rng.random() < 0.5:
            shown.append(keep)
        else:
            shown.append(words[rng.randint(0, len(words) - 1)])
    return shown


def _google_truncation(rng: random.Random, tokens_a: list, tokens_b: list,
                       max_num_tokens: int) -> None:
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


@generator_classes
@settings(max_examples=300, deadline=None)
@given(seed=seeds, count=st.integers(0, 100),
       num_words=st.sampled_from([1, 2, 3, 5, 1000, 21128, 30522, 2**16]))
def test_replacement_draws_are_googles(generator_class, seed, count, num_words) -> None:
    words = tuple(range(7, 7 + num_words))
    ours, theirs = generator_class(seed), random.Random(seed)
    shown = ours.replacement_draws(count, 103, KEEP, words)
    assert shown == _google_replacements(theirs, count, 103, KEEP, words)
    assert ours.getstate() == theirs.getstate()


@generator_classes
@settings(max_examples=300, deadline=None)
@given(seed=seeds, a_lo=st.integers(0, 50), len_a=st.integers(0, 300),
       b_lo=st.integers(0, 50), len_b=st.integers(0, 300), limit=st.integers(0, 300))
def test_truncate_pair_is_googles(generator_class, seed, a_lo, len_a, b_lo, len_b,
                                  limit) -> None:
    ours, theirs = generator_class(seed), random.Random(seed)
    tokens_a, tokens_b = list(range(a_lo, a_lo + len_a)), list(range(b_lo, b_lo + len_b))
    _google_truncation(theirs, tokens_a, tokens_b, limit)
    new_a_lo, new_a_hi, new_b_lo, new_b_hi = ours.truncate_pair(
        a_lo, a_lo + len_a, b_lo, b_lo + len_b, limit)
    assert list(range(new_a_lo, new_a_hi)) == tokens_a
    assert list(range(new_b_lo, new_b_hi)) == tokens_b
    assert ours.getstate() == theirs.getstate()


@generator_classes
@settings(max_examples=300, deadline=None)
@given(seed=seeds, width=st.integers(1, 2**32 - 1))
def test_randbelow_is_randint(generator_class, seed, width) -> None:
    ours, theirs = generator_class(seed), random.Random(seed)
    assert ours.randbelow(width) == theirs.randint(0, width - 1)
    assert ours.getstate() == theirs.getstate()


class _Recorder:
    """Everything the walk hands its sink, in order."""

    def __init__(self) -> None:
        self.added: list[tuple] = []

    def add(self, *instance) -> None:
        self.added.append(instance)


@needs_accelerator
@pytest.mark.parametrize("whole_word", [False, True])
@pytest.mark.parametrize("has_special", [False, True])
def test_the_walk_hands_the_sink_the_same_instances(whole_word, has_special) -> None:
    # Every branch of the walk (plain ranges, literal [CLS]/[SEP] ids, whole-word groups
    # with continuations), on generated documents with long and one-segment documents.
    picker = random.Random(3)
    cls_id, sep_id = 101, 102
    pool = [5, 6, 7, 8, 9, 10, 11, 12] + ([cls_id, sep_id] if has_special else [])
    documents, ids, offset = [], [], 0
    for _ in range(40):
        bounds = [offset]
        for _ in range(picker.choice([1, 2, 5, 12])):
            segment = [picker.choice(pool) for _ in range(picker.randint(1, 40))]
            if whole_word:
                segment = [token | instances.CONTINUATION if picker.random() < 0.3 else token
                           for token in segment]
            ids += segment
            offset += len(segment)
            bounds.append(offset)
        documents.append(bounds)
    tokens = ShardTokens(np.array(ids, dtype=np.int32), has_special=has_special)
    rules = MaskingRules(max_seq_length=64, max_predictions_per_seq=12, masked_lm_prob=0.15,
                         short_seq_prob=0.2, cls_id=cls_id, sep_id=sep_id, mask_id=103,
                         random_word_ids=tuple(range(200, 1234)), whole_word=whole_word)
    runs = []
    for generator in (MersenneTwister(11), PythonTwister(11)):
        recorder = _Recorder()
        create_instances(tokens, documents, rules, 3, generator, recorder)
        runs.append((recorder.added, generator.getstate()))
    assert len(runs[0][0]) > 100
    assert runs[0] == runs[1]
