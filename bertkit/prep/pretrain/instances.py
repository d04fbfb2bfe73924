"""Google's pretraining instances (NSP pairs + masked LM), random call for random call.

The algorithm and the order of its random calls are Google's `create_pretraining_data.py`
(reference-formats.md §H): one `random.Random` drives the document shuffle, then per pass
and per document the target length, the A/B split, the random-next choice, the
truncation and the masking, and finally the shuffle of every instance. Whatever we do
differently for speed must draw exactly the same numbers:

- tokens are vocab ids, not strings; a piece that continues a word (for whole-word
  masking) carries the `CONTINUATION` bit, which is stripped before anything is written;
- `shuffle_exact` is `random.Random.shuffle` with its `_randbelow` inlined (CPython's
  rejection sampling on `getrandbits`), because candidate shuffles are the hot loop;
- truncation moves two indexes instead of deleting list heads.

Instances go to a sink (`InstanceSink`) as they are made, so a shard's instances can be
spilled to disk instead of held as Python objects.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

# A token id with this bit set continues the previous candidate group (a `##` piece, or
# a later character of a Chinese word). Ids stay below it (vocabularies are far smaller).
CONTINUATION = 1 << 30
ID_BITS = CONTINUATION - 1

# (i, (i + 1).bit_length()) for the list sizes candidate shuffles see: iterating these
# pairs is the cheapest loop header we found (about 2x `random.shuffle`).
_SHUFFLE_STEPS = [(i, (i + 1).bit_length()) for i in range(4096)]

Segment = tuple[int, ...]
Document = list[Segment]


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


class InstanceSink(Protocol):
    def add(self, ids: list[int], len_a: int, positions: list[int], labels: list[int],
            is_random_next: bool) -> None: ...


def shuffle_exact(rng: random.Random, items: list) -> None:
    """`rng.shuffle(items)`: same permutation, same generator state afterwards.

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


def create_instances(documents: list[Document], rules: MaskingRules, dupe_factor: int,
                     rng: random.Random, sink: InstanceSink) -> None:
    """Every pass over every document, in Google's order (documents already shuffled)."""
    for _ in range(dupe_factor):
        for document_index in range(len(documents)):
            instances_from_document(documents, document_index, rules, rng, sink)


def instances_from_document(documents: list[Document], document_index: int,
                            rules: MaskingRules, rng: random.Random,
                            sink: InstanceSink) -> None:
    document = documents[document_index]
    max_num_tokens = rules.max_seq_length - 3
    target_seq_length = max_num_tokens
    if rng.random() < rules.short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)

    chunk: list[Segment] = []
    current_length = 0
    last = len(document) - 1
    i = 0
    while i <= last:
        segment = document[i]
        chunk.append(segment)
        current_length += len(segment)
        if i == last or current_length >= target_seq_length:
            a_end = 1
            if len(chunk) >= 2:
                a_end = rng.randint(1, len(chunk) - 1)
            tokens_a: list[int] = []
            for j in range(a_end):
                tokens_a += chunk[j]
            tokens_b: list[int] = []
            if len(chunk) == 1 or rng.random() < 0.5:
                is_random_next = True
                target_b_length = target_seq_length - len(tokens_a)
                # Ten tries at another document; a one-document corpus keeps its own.
                for _ in range(10):
                    random_document_index = rng.randint(0, len(documents) - 1)
                    if random_document_index != document_index:
                        break
                random_document = documents[random_document_index]
                random_start = rng.randint(0, len(random_document) - 1)
                for j in range(random_start, len(random_document)):
                    tokens_b += random_document[j]
                    if len(tokens_b) >= target_b_length:
                        break
                # The chunk's unused segments are read again by the next chunk.
                i -= len(chunk) - a_end
            else:
                is_random_next = False
                for j in range(a_end, len(chunk)):
                    tokens_b += chunk[j]
            tokens_a, tokens_b = _truncate_pair(tokens_a, tokens_b, max_num_tokens, rng)
            _mask_and_emit(tokens_a, tokens_b, is_random_next, rules, rng, sink)
            chunk = []
            current_length = 0
        i += 1


def _truncate_pair(tokens_a: list[int], tokens_b: list[int], max_num_tokens: int,
                   rng: random.Random) -> tuple[list[int], list[int]]:
    """Trim the longer side one token at a time, front or back by a coin flip."""
    a_lo, a_hi, b_lo, b_hi = 0, len(tokens_a), 0, len(tokens_b)
    if a_hi + b_hi <= max_num_tokens:
        return tokens_a, tokens_b
    coin = rng.random
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
    return tokens_a[a_lo:a_hi], tokens_b[b_lo:b_hi]


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


def _mask_and_emit(tokens_a: list[int], tokens_b: list[int], is_random_next: bool,
                   rules: MaskingRules, rng: random.Random, sink: InstanceSink) -> None:
    cls_id, sep_id = rules.cls_id, rules.sep_id
    tokens = [cls_id, *tokens_a, sep_id, *tokens_b, sep_id]
    length = len(tokens)
    if rules.whole_word and max(tokens) >= CONTINUATION:
        groups: list = candidate_groups(tokens, cls_id, sep_id)
        tokens = [token & ID_BITS for token in tokens]
    elif cls_id in tokens_a or sep_id in tokens_a or cls_id in tokens_b or sep_id in tokens_b:
        groups = [index for index, token in enumerate(tokens)
                  if token != cls_id and token != sep_id]
    else:
        len_a = len(tokens_a)
        groups = [*range(1, len_a + 1), *range(len_a + 2, length - 1)]
    if rules.whole_word and groups and not isinstance(groups[0], list):
        groups = [[index] for index in groups]  # no continuation: every group is one piece
    shuffle_exact(rng, groups)
    num_to_predict = min(rules.max_predictions_per_seq,
                         max(1, int(round(length * rules.masked_lm_prob))))

    random_unit = rng.random
    getrandbits = rng.getrandbits
    mask_id = rules.mask_id
    words = rules.random_word_ids
    num_words = len(words)
    word_bits = num_words.bit_length()
    output = list(tokens)
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
    for index in positions:
        if random_unit() < 0.8:
            output[index] = mask_id
        elif random_unit() < 0.5:
            pass  # keep the original token
        else:
            draw = getrandbits(word_bits)
            while draw >= num_words:
                draw = getrandbits(word_bits)
            output[index] = words[draw]
    positions.sort()
    sink.add(output, len(tokens_a), positions, [tokens[index] for index in positions],
             is_random_next)
