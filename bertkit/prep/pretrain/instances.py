"""Google's pretraining instances (NSP pairs + masked LM), random call for random call.

The algorithm and the order of its random calls are Google's `create_pretraining_data.py`
(reference-formats.md §H): one `random.Random` drives the document shuffle, then per pass
and per document the target length, the A/B split, the random-next choice, the
truncation and the masking, and finally the shuffle of every instance. Whatever we do
differently for speed must draw exactly the same numbers:

- a shard's tokens are one flat array of vocab ids (`ShardTokens`) and a document is the
  offsets of its segments in it, so an instance is four offsets (A and B are each one
  contiguous run of the flat array) instead of lists of ids: building, truncating and
  spilling an instance touches no token, and the records are assembled from the offsets
  with numpy when they are written;
- a piece that continues a word (for whole-word masking) carries the `CONTINUATION`
  bit, which is stripped before anything is written;
- `shuffle_exact` is `random.Random.shuffle` with its `_randbelow` inlined (CPython's
  rejection sampling on `getrandbits`), because candidate shuffles are the hot loop, and
  `shuffle_prefix` the same draws when only the first `num_to_predict` candidates are
  read; `randint(a, b)` is `a + randbelow(...)`, the same draw without three Python calls;
- truncation moves the offsets instead of deleting list heads;
- when the optional C accelerator (`_mtrandom.c`, built at install where a C compiler is
  present) imports, the generator is its `MersenneTwister`: an MT19937 that draws what
  `random.Random` draws, call for call, and also does the hot steps whole in C (the
  shuffles, `randbelow`, the truncation, the plain candidates' shuffled head and the
  80/10/10 draws), each the same draws as the Python step it replaces. Without it, or
  with BERTKIT_PURE_PYTHON=1, the generator is `PythonTwister`, a `random.Random` with the
  same methods written in Python, and the records are the same.

Instances go to a sink (`InstanceSink`) as they are made, so a shard's instances can be
spilled to disk instead of held as Python objects.
"""

from __future__ import annotations

import os
import random
from bisect import bisect_left
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

try:
    from bertkit.prep.pretrain._mtrandom import MersenneTwister
except ImportError:  # not built (no C compiler at install): the pure-Python walk
    MersenneTwister = None

# Set to anything but "" or "0", it makes `new_generator` return `PythonTwister` even where
# the accelerator is built (read per call, so tests can run both paths in one process).
PURE_PYTHON_ENV = "BERTKIT_PURE_PYTHON"

# A token id with this bit set continues the previous candidate group (a `##` piece, or
# a later character of a Chinese word). Ids stay below it (vocabularies are far smaller).
CONTINUATION = 1 << 30
ID_BITS = CONTINUATION - 1

# (i, (i + 1).bit_length()) for the list sizes candidate shuffles see: iterating these
# pairs is the cheapest loop header we found (about 2x `random.shuffle`).
_SHUFFLE_STEPS = [(i, (i + 1).bit_length()) for i in range(4096)]

# A document: the offsets of its segments in `ShardTokens.ids`, segment k being
# ids[bounds[k]:bounds[k + 1]] (segments are never empty).
DocumentBounds = list[int]


@dataclass
class ShardTokens:
    """Every segment's ids back to back, and whether any of them is [CLS] or [SEP]."""

    ids: np.ndarray  # int32 (int64 past 2**31 tokens), CONTINUATION bits included
    # A segment may hold a literal [CLS]/[SEP] id (a tokenizer that keeps them): then
    # the candidate positions must skip them, as Google's loop does; rare, so checked
    # once per shard.
    has_special: bool

    def python_ids(self, begin: int, end: int) -> list[int]:
        return self.ids[begin:end].tolist()


@dataclass(frozen=True)
class MaskingRules:
    """Everything instance creation needs besides the documents and the generator."""

    max_seq_length: int
    max_predictions_per_seq: int
    masked_lm_prob: float
    short_seq_prob: float
    cls_id: int
    sep_id: int
    mask_id: int
    # vocab_words[k] -> its id: Google draws a random *word* from the vocab's keys in
    # file order, then looks its id up (a repeated vocab line keeps its last id).
    random_word_ids: tuple[int, ...]
    whole_word: bool


# The id written at a masked position when Google keeps the original token.
KEEP = -1


class InstanceSink(Protocol):
    def add(self, a_begin: int, a_end: int, b_begin: int, b_end: int, positions: list[int],
            replacements: list[int], is_random_next: bool) -> None:
        """One instance: [CLS] ids[a_begin:a_end] [SEP] ids[b_begin:b_end] [SEP], with
        positions[k] (in draw order) showing replacements[k] (an id, or KEEP)."""


class WalkGenerator(Protocol):
    """What the walk draws from: `random.Random`'s draws plus its compound steps, each making
    exactly the draws of the Python step it names. `PythonTwister` and the compiled
    `MersenneTwister` both are one."""

    def random(self) -> float: ...
    def getrandbits(self, k: int, /) -> int: ...
    def shuffle(self, items: list, /) -> None: ...
    def shuffle_prefix(self, items: list, count: int, /) -> None: ...
    def randbelow(self, n: int, /) -> int: ...
    def truncate_pair(self, a_lo: int, a_hi: int, b_lo: int, b_hi: int,
                      max_num_tokens: int, /) -> tuple[int, int, int, int]: ...
    def candidate_head(self, len_a: int, length: int, count: int, /) -> list[int]: ...
    def replacement_draws(self, count: int, mask_id: int, keep: int,
                          words: tuple[int, ...], /) -> list[int]: ...


class PythonTwister(random.Random):
    """`random.Random` with the walk's compound steps as methods: the pure-Python walk.

    The methods have the compiled `MersenneTwister`'s names and arguments, so the walk calls
    ``rng.shuffle_prefix(...)`` and the like without asking which generator it holds. They
    are written with the module functions below (`shuffle_exact`, `shuffle_prefix`,
    `randbelow`, `_truncate_pair`, `replacement_draws`); the tests compare every method with
    the same step written out on `random.Random`.
    """

    def shuffle(self, items: list) -> None:  # type: ignore[override]
        shuffle_exact(self, items)

    def shuffle_prefix(self, items: list, count: int) -> None:
        shuffle_prefix(self, items, count)

    def randbelow(self, n: int) -> int:
        return randbelow(self.getrandbits, n)

    def truncate_pair(self, a_lo: int, a_hi: int, b_lo: int, b_hi: int,
                      max_num_tokens: int) -> tuple[int, int, int, int]:
        return _truncate_pair(a_lo, a_hi, b_lo, b_hi, max_num_tokens, self.random)

    def candidate_head(self, len_a: int, length: int, count: int) -> list[int]:
        """The first ``count`` of the shuffled candidates: every position of A and B,
        without [CLS] and the two [SEP]s."""
        candidates = [*range(1, len_a + 1), *range(len_a + 2, length - 1)]
        shuffle_prefix(self, candidates, count)
        return candidates[:count]

    def replacement_draws(self, count: int, mask_id: int, keep: int,
                          words: tuple[int, ...]) -> list[int]:
        return replacement_draws(self, count, mask_id, words, keep=keep)


def accelerated() -> bool:
    """Whether `new_generator` returns the compiled generator."""
    return MersenneTwister is not None and os.environ.get(PURE_PYTHON_ENV, "") in ("", "0")


def new_generator(seed: int) -> WalkGenerator:
    """`PythonTwister(seed)`, or the compiled generator: the same draws and methods."""
    return MersenneTwister(seed) if accelerated() else PythonTwister(seed)


def shuffle_exact(rng: random.Random, items: list) -> None:
    """`random.Random.shuffle(rng, items)`: same permutation, same generator state after.

    CPython's shuffle is Fisher-Yates from the back, each j drawn by `_randbelow(i + 1)`:
    `getrandbits(bit_length(i + 1))`, redrawn while it exceeds i.
    """
    getrandbits = rng.getrandbits
    size = len(items)
    if size <= len(_SHUFFLE_STEPS):
        steps = reversed(_SHUFFLE_STEPS[1:size])
    else:
        steps = ((i, (i + 1).bit_length()) for i in range(size - 1, 0, -1))
    for i, k in steps:
        j = getrandbits(k)
        while j > i:
            j = getrandbits(k)
        items[i], items[j] = items[j], items[i]


def shuffle_prefix(rng: random.Random, items: list, count: int) -> None:
    """`items[:count]` as `rng.shuffle(items)` leaves them, with the same draws.

    The steps that fix positions >= count only need to move the element the draw picks
    (items[j] = items[i]): what lands at position i is never read again.
    """
    getrandbits = rng.getrandbits
    size = len(items)
    if size > len(_SHUFFLE_STEPS):
        shuffle_exact(rng, items)
        return
    for i, k in reversed(_SHUFFLE_STEPS[max(count, 1):size]):
        j = getrandbits(k)
        while j > i:
            j = getrandbits(k)
        items[j] = items[i]
    for i, k in reversed(_SHUFFLE_STEPS[1:min(count, size)]):
        j = getrandbits(k)
        while j > i:
            j = getrandbits(k)
        items[i], items[j] = items[j], items[i]


def randbelow(getrandbits, n: int) -> int:
    """CPython's `Random._randbelow` (so `randint(a, b)` is `a + randbelow(.., b - a + 1)`):
    `getrandbits(n.bit_length())` until below n, which draws even for n == 1."""
    k = n.bit_length()
    r = getrandbits(k)
    while r >= n:
        r = getrandbits(k)
    return r


def create_instances(tokens: ShardTokens, documents: list[DocumentBounds], rules: MaskingRules,
                     dupe_factor: int, rng: WalkGenerator, sink: InstanceSink) -> None:
    """Every pass over every document, in Google's order (documents already shuffled)."""
    for _ in range(dupe_factor):
        for document_index in range(len(documents)):
            instances_from_document(tokens, documents, document_index, rules, rng, sink)


def instances_from_document(tokens: ShardTokens, documents: list[DocumentBounds],
                            document_index: int, rules: MaskingRules, rng: WalkGenerator,
                            sink: InstanceSink) -> None:
    """One document's instances."""
    below, truncate = rng.randbelow, rng.truncate_pair
    bounds = documents[document_index]
    max_num_tokens = rules.max_seq_length - 3
    target_seq_length = max_num_tokens
    random_unit = rng.random
    if random_unit() < rules.short_seq_prob:
        target_seq_length = 2 + below(max_num_tokens - 1)

    # The chunk is segments first..i; Google's current_length is their total length.
    last = len(bounds) - 2
    first = 0
    i = 0
    while i <= last:
        if i == last or bounds[i + 1] - bounds[first] >= target_seq_length:
            chunk_size = i - first + 1
            a_segments = 1
            if chunk_size >= 2:
                a_segments = 1 + below(chunk_size - 1)
            a_begin, a_end = bounds[first], bounds[first + a_segments]
            if chunk_size == 1 or random_unit() < 0.5:
                is_random_next = True
                target_b_length = target_seq_length - (a_end - a_begin)
                # Ten tries at another document; a one-document corpus keeps its own.
                for _ in range(10):
                    random_document_index = below(len(documents))
                    if random_document_index != document_index:
                        break
                random_bounds = documents[random_document_index]
                random_start = below(len(random_bounds) - 1)
                b_begin = random_bounds[random_start]
                # Whole segments from random_start until B reaches its target length.
                stop = bisect_left(random_bounds, b_begin + target_b_length, random_start + 1)
                b_end = random_bounds[min(stop, len(random_bounds) - 1)]
                # The chunk's unused segments are read again by the next chunk.
                i -= chunk_size - a_segments
            else:
                is_random_next = False
                b_begin, b_end = a_end, bounds[i + 1]
            if (a_end - a_begin) + (b_end - b_begin) > max_num_tokens:
                a_begin, a_end, b_begin, b_end = truncate(a_begin, a_end, b_begin, b_end,
                                                          max_num_tokens)
            _mask_and_emit(tokens, a_begin, a_end, b_begin, b_end, is_random_next, rules,
                           rng, sink)
            first = i + 1
        i += 1


def _truncate_pair(a_lo: int, a_hi: int, b_lo: int, b_hi: int, max_num_tokens: int,
                   coin) -> tuple[int, int, int, int]:
    """Trim the longer side one token at a time, front or back by a coin flip."""
    while (a_hi - a_lo) + (b_hi - b_lo) > max_num_tokens:
        if a_hi - a_lo > b_hi - b_lo:
            if coin() < 0.5:
                a_lo += 1
            else:
                a_hi -= 1
        elif coin() < 0.5:
            b_lo += 1
        else:
            b_hi -= 1
    return a_lo, a_hi, b_lo, b_hi


def candidate_groups(tokens: list[int], cls_id: int, sep_id: int) -> list[list[int]]:
    """Whole-word candidate groups: positions, a continuation joining the group before.

    As in Google's loop, [CLS]/[SEP] positions are skipped without ending a group, so a
    continuation right after a [SEP] joins the last group before it.
    """
    groups: list[list[int]] = []
    for index, token in enumerate(tokens):
        if token == cls_id or token == sep_id:
            continue
        if token & CONTINUATION and groups:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def _mask_and_emit(tokens: ShardTokens, a_begin: int, a_end: int, b_begin: int, b_end: int,
                   is_random_next: bool, rules: MaskingRules, rng: WalkGenerator,
                   sink: InstanceSink) -> None:
    len_a = a_end - a_begin
    length = len_a + (b_end - b_begin) + 3
    num_to_predict = min(rules.max_predictions_per_seq,
                         max(1, int(round(length * rules.masked_lm_prob))))
    groups: list
    if rules.whole_word or tokens.has_special:
        cls_id, sep_id = rules.cls_id, rules.sep_id
        ids = [cls_id, *tokens.python_ids(a_begin, a_end), sep_id,
               *tokens.python_ids(b_begin, b_end), sep_id]
        if rules.whole_word and max(ids) >= CONTINUATION:
            groups = candidate_groups(ids, cls_id, sep_id)
        else:
            groups = [index for index, token in enumerate(ids)
                      if token != cls_id and token != sep_id]
            if rules.whole_word and groups:
                groups = [[index] for index in groups]  # no continuation: one piece each
        if rules.whole_word:
            rng.shuffle(groups)
        else:
            rng.shuffle_prefix(groups, num_to_predict)
    else:
        # The candidates are a range without the three specials: the generator builds,
        # shuffles and cuts them in one call (in C where it is the compiled one).
        groups = rng.candidate_head(len_a, length, num_to_predict)

    positions: list[int] = []
    if rules.whole_word:
        for group in groups:
            if len(positions) >= num_to_predict:
                break
            if len(positions) + len(group) > num_to_predict:
                continue  # a whole word that would overflow is skipped, not cut
            positions += group
    else:
        # Groups of one: Google's loop takes the first num_to_predict candidates.
        positions = groups[:num_to_predict]
    # The draws go position by position in the order the candidates were taken.
    replacements = rng.replacement_draws(len(positions), rules.mask_id, KEEP,
                                         rules.random_word_ids)
    sink.add(a_begin, a_end, b_begin, b_end, positions, replacements, is_random_next)


def replacement_draws(rng: random.Random, count: int, mask_id: int,
                      words: tuple[int, ...], *, keep: int = KEEP) -> list[int]:
    """Google's choice per masked position: [MASK] 80%, the original (``keep``) 10%, a
    random vocab word 10% (`randint` over the vocab's words, as `randbelow`)."""
    random_unit = rng.random
    getrandbits = rng.getrandbits
    num_words = len(words)
    word_bits = num_words.bit_length()
    replacements: list[int] = []
    shown = replacements.append
    for _ in range(count):
        if random_unit() < 0.8:
            shown(mask_id)
        elif random_unit() < 0.5:
            shown(keep)
        else:
            draw = getrandbits(word_bits)
            while draw >= num_words:
                draw = getrandbits(word_bits)
            shown(words[draw])
    return replacements
