"""Reading a SQuAD v1.1/v2.0 JSON file into paragraphs and questions, with clear errors.

The reading rules are those of Google's `read_squad_examples` (reference-formats A.2):
- a context is split into "doc tokens" on its own narrow whitespace set (space, tab,
  CR, LF and U+202F), not the tokenizer's;
- for training, each answerable question must have exactly one answer, which is mapped
  to the doc tokens it touches; if those tokens do not contain the (whitespace-normalised)
  answer text the question is skipped and reported, exactly as Google skips it.

With ``doc_tokens="cjk-chars"`` (Chinese files, see `squad.chinese`) contexts are split
into the CMRC baseline's character doc tokens instead, and answers whose text is not at
their ``answer_start`` are repaired from the text or skipped, each counted.

Unlike Google, every structural problem becomes an `InputError` naming the article,
paragraph or question, instead of a KeyError deep inside the converter.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertkit.errors import InputError
from bertkit.gcutil import gc_paused
from bertkit.prep.input_text import check_regular_file
from bertkit.prep.squad.chinese import (AUTO, CJK_CHARS, WHITESPACE, CjkDocTokens,
                                        cjk_doc_token_arrays, place_answer, resolve_doc_tokens)

# Google's reader splits contexts on exactly these characters (A.2); U+202F is its one
# addition to ASCII whitespace. The tokenizer's broader whitespace set is applied later,
# inside each doc token.
_DOC_TOKEN = re.compile("[^ \t\r\n\u202f]+")
# A JSON escape such as "\\ud800" decodes to a lone surrogate: not text, and no UTF-8
# writer (the eval sidecar, predictions) can store it. Both splits reject it the same way.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class SquadQuestion:
    """One question as read; the answer fields are only meaningful for training."""

    qas_id: str
    question_text: str
    answers: list[str]  # every gold text, for evaluation
    is_impossible: bool
    answer_text: str = ""  # the training answer (answers[0]); "" when impossible
    start_word: int = -1  # doc-token index of the answer's first / last character
    end_word: int = -1


class SquadParagraph:
    """A paragraph's doc tokens and questions.

    Character doc tokens also keep the context and where each doc token starts in it, so a
    predicted span maps back to an exact substring. They come as arrays (``cjk``: a Chinese
    context has a doc token per character, and prep works on the arrays); their lists
    (`doc_tokens`, `token_starts`) are made when first asked for."""

    def __init__(
        self,
        questions: list[SquadQuestion],
        doc_tokens: list[str] | None = None,
        *,
        context: str | None = None,
        cjk: CjkDocTokens | None = None,
    ):
        if (doc_tokens is None) == (cjk is None):
            raise ValueError("a paragraph has either doc_tokens or cjk")
        self.questions = questions
        self.context = context
        self.cjk = cjk
        self._doc_tokens = doc_tokens
        self._token_starts: list[int] | None = None

    @property
    def doc_tokens(self) -> list[str]:
        if self._doc_tokens is None:
            assert self.cjk is not None
            self._doc_tokens = self.cjk.tokens()
        return self._doc_tokens

    @property
    def num_doc_tokens(self) -> int:
        return len(self.cjk.keys) if self.cjk is not None else len(self.doc_tokens)

    @property
    def token_starts(self) -> list[int] | None:
        """Character doc tokens only: each doc token's offset in the context."""
        if self.cjk is None:
            return None
        if self._token_starts is None:
            self._token_starts = self.cjk.starts.tolist()
        return self._token_starts


@dataclass
class SkippedAnswer:
    """A training question dropped because its answer text is not in its doc tokens."""

    qas_id: str
    found: str
    expected: str
    reason: str = "answer text not in its doc tokens"


@dataclass
class RepairedAnswer:
    """An answer whose text was not at its answer_start, moved to where the text is."""

    qas_id: str
    answer_index: int
    given_start: int
    start: int


@dataclass
class SquadReadResult:
    paragraphs: list[SquadParagraph]
    skipped: list[SkippedAnswer] = field(default_factory=list)
    repaired: list[RepairedAnswer] = field(default_factory=list)
    doc_tokens: str = WHITESPACE  # how contexts were split: whitespace or cjk-chars

    @property
    def num_questions(self) -> int:
        return sum(len(paragraph.questions) for paragraph in self.paragraphs)


def load_json(path: str | Path) -> Any:
    """Parse a JSON file; a syntax error reports its line and column."""
    path = Path(path)
    check_regular_file(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except OSError as error:
        raise InputError(path, f"cannot read: {error.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(path, f"not UTF-8 ({error.reason})", f"byte {error.start}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            path, f"invalid JSON: {error.msg}", f"{error.lineno}:{error.colno}"
        ) from None
    except RecursionError:  # the parser recurses per nesting level; no SQuAD file nests deep
        raise InputError(path, "JSON nested too deeply to be a SQuAD file") from None


class _Context:
    """A paragraph's text and doc tokens; token offsets only computed when an answer
    needs them (eval never does)."""

    def __init__(
        self,
        text: str,
        doc_tokens: str = WHITESPACE,
        cjk_tokens: CjkDocTokens | None = None,
    ):
        """``cjk_tokens``: the character doc tokens of ``text`` if already made (for many
        contexts at once, by `cjk_doc_token_arrays`)."""
        self.text = text
        self.chinese = doc_tokens == CJK_CHARS
        self._starts: list[int] | None = None
        self.surrogate = _SURROGATE.search(text)
        self.doc_tokens: list[str] | None = None
        self.cjk: CjkDocTokens | None = None
        if self.chinese:
            self.cjk = cjk_tokens or cjk_doc_token_arrays([text])[0]
        else:
            self.doc_tokens = _DOC_TOKEN.findall(text)

    @property
    def token_starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [match.start() for match in _DOC_TOKEN.finditer(self.text)]
        return self._starts

    def word_of_char(self, char_index: int) -> int:
        """`word_of_char` of this context's doc tokens."""
        if self.cjk is not None:
            return int(self.cjk.starts.searchsorted(char_index, "right")) - 1
        return word_of_char(self.token_starts, char_index)

    def words_text(self, first: int, last: int) -> str:
        """Doc tokens ``first`` to ``last`` joined as Google compares them with an answer:
        with spaces, or, for character doc tokens, without (as the CMRC baseline does)."""
        if self.cjk is None:
            assert self.doc_tokens is not None
            return " ".join(self.doc_tokens[first : last + 1])
        # Between a doc token and the next there are only separators (whitespace), which
        # str.split drops: the joined tokens are the context from the first one's start to
        # the next one's, less whitespace.
        starts = self.cjk.starts
        end = int(starts[last + 1]) if last + 1 < len(starts) else len(self.text)
        return "".join(self.text[int(starts[first]) : end].split())


def split_doc_tokens(context: str) -> tuple[list[str], list[int]]:
    """Doc tokens and the character offset where each starts."""
    parsed = _Context(context)
    assert parsed.doc_tokens is not None
    return parsed.doc_tokens, parsed.token_starts


def word_of_char(token_starts: list[int], char_index: int) -> int:
    """Index of the doc token holding ``char_index``; whitespace belongs to the token before
    it (-1 before the first token), as Google's ``char_to_word_offset`` has it."""
    return bisect.bisect_right(token_starts, char_index) - 1


def _article_label(index: int, article: Any) -> str:
    title = article.get("title") if isinstance(article, dict) else None
    return f"article {index}" + (f" ({title})" if isinstance(title, str) else "")


def _require(container: Any, key: str, kind: type, path: Path, where: str) -> Any:
    if not isinstance(container, dict) or key not in container:
        raise InputError(path, f"missing {key!r}", where)
    value = container[key]
    if not isinstance(value, kind):
        raise InputError(
            path, f"{key!r} must be a {kind.__name__}, got {type(value).__name__}", where
        )
    return value


def read_squad_file(
    path: str | Path,
    *,
    is_training: bool,
    version_2_with_negative: bool,
    doc_tokens: str = WHITESPACE,
    strict: bool = False,
) -> SquadReadResult:
    """Load and validate a SQuAD JSON file (see module docstring for the rules)."""
    path = Path(path)
    # The parsed file and what is read from it are many small containers with no cycles:
    # collections during the read would walk them (and everything else alive) for nothing.
    with gc_paused():
        return read_squad_data(
            load_json(path),
            path,
            is_training=is_training,
            version_2_with_negative=version_2_with_negative,
            doc_tokens=doc_tokens,
            strict=strict,
        )


def _contexts(document: Any) -> list[str]:
    """Every context string, tolerating a malformed file (the reader reports it later)."""
    found = []
    articles = document.get("data") if isinstance(document, dict) else None
    for article in articles if isinstance(articles, list) else []:
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        for paragraph in paragraphs if isinstance(paragraphs, list) else []:
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            if isinstance(context, str):
                found.append(context)
    return found


def read_squad_data(
    document: Any,
    path: Path,
    *,
    is_training: bool,
    version_2_with_negative: bool,
    doc_tokens: str = WHITESPACE,
    strict: bool = False,
) -> SquadReadResult:
    """``doc_tokens``: whitespace (Google's), cjk-chars or auto; ``strict`` turns a skipped
    or repaired answer into an error naming the question."""
    contexts = _contexts(document) if doc_tokens in (AUTO, CJK_CHARS) else []
    if doc_tokens == AUTO:
        doc_tokens = resolve_doc_tokens(AUTO, contexts)
    # Character doc tokens of every context at once, in file order (the loop below checks
    # it gets the one for its context).
    cjk_tokens = iter(
        zip(contexts, cjk_doc_token_arrays(contexts)) if doc_tokens == CJK_CHARS else []
    )
    articles = _require(document, "data", list, path, "top level")
    result = SquadReadResult(paragraphs=[], doc_tokens=doc_tokens)
    for article_index, article in enumerate(articles):
        article_where = _article_label(article_index, article)
        paragraphs = _require(article, "paragraphs", list, path, article_where)
        for paragraph_index, paragraph in enumerate(paragraphs):
            where = f"{article_where} paragraph {paragraph_index}"
            text = _require(paragraph, "context", str, path, where)
            made_for, made = next(cjk_tokens, (None, None))
            context = _Context(text, doc_tokens, made if made_for is text else None)
            qas = _require(paragraph, "qas", list, path, where)
            questions = []
            for question_index, qa in enumerate(qas):
                question = _read_question(
                    qa,
                    path,
                    f"{where} question {question_index}",
                    context,
                    is_training,
                    version_2_with_negative,
                    result,
                    strict,
                )
                if question is not None:
                    questions.append(question)
            result.paragraphs.append(
                SquadParagraph(questions, context.doc_tokens,
                               context=context.text if context.chinese else None,
                               cjk=context.cjk)
            )
    return result


def _reject_surrogate(path: Path, where: str, field: str, found: re.Match[str] | None) -> None:
    if found is not None:
        raise InputError(
            path,
            f"the {field} holds a lone surrogate U+{ord(found.group()):04X} at character "
            f"{found.start()} (a bad \\u escape; not valid Unicode text)",
            where,
        )


def _read_question(
    qa: Any,
    path: Path,
    where: str,
    context: _Context,
    is_training: bool,
    version_2_with_negative: bool,
    result: SquadReadResult,
    strict: bool = False,
) -> SquadQuestion | None:
    qas_id = _require(qa, "id", str, path, where)
    _reject_surrogate(path, where, "id", _SURROGATE.search(qas_id))
    where = f"question {qas_id!r}"
    _reject_surrogate(path, where, "context", context.surrogate)
    question_text = _require(qa, "question", str, path, where)
    _reject_surrogate(path, where, "question", _SURROGATE.search(question_text))
    if "is_impossible" in qa and not version_2_with_negative:
        raise InputError(
            path,
            "this is a SQuAD v2.0 file (questions carry 'is_impossible'); "
            "pass --version-2-with-negative",
            where,
        )
    is_impossible = bool(qa.get("is_impossible", False)) if version_2_with_negative else False
    raw_answers = qa.get("answers", [])
    if not isinstance(raw_answers, list):
        raise InputError(path, "'answers' must be a list", where)
    answers: list[tuple[str, int]] = []
    for answer_index, answer in enumerate(raw_answers):
        answer_where = f"{where} answer {answer_index}"
        text = _require(answer, "text", str, path, answer_where)
        _reject_surrogate(path, answer_where, "answer text", _SURROGATE.search(text))
        start = _require(answer, "answer_start", int, path, answer_where)
        if context.chinese:
            start = _place_chinese_answer(
                context.text, qas_id, answer_index, text, start, path, answer_where, result,
                strict,
            )
        elif start < 0 or start + len(text) > len(context.text):
            raise InputError(
                path,
                f"answer_start {start} (+ {len(text)} characters) is outside "
                f"the context ({len(context.text)} characters)",
                answer_where,
            )
        answers.append((text, start))
    question = SquadQuestion(
        qas_id=qas_id,
        question_text=question_text,
        answers=[text for text, _ in answers],
        is_impossible=is_impossible,
    )
    if not is_training or is_impossible:
        return question
    if len(answers) != 1:
        raise InputError(
            path,
            f"a training question needs exactly one answer, found "
            f"{len(answers)} (use --split eval for dev-style files)",
            where,
        )
    text, start = answers[0]
    if context.chinese and start < 0:
        return None  # unrepairable: already counted in result.skipped
    if not text:
        raise InputError(path, "the answer text is empty", where)
    first_char, last_char = start, start + len(text) - 1
    if context.chinese:
        # Whitespace is no character doc token: it belongs to the token before it, so an
        # answer's leading whitespace starts its span at the preceding character (CMRC
        # trial has " 过敏反应..." after "。"), and only the later span refinement narrows
        # it again. The span is the answer's first to last non-space character; an answer
        # of whitespace alone has none (it was labelled as the character before it).
        if not text.strip():
            reason = "the answer text is only whitespace"
            return _skip(result, strict, path, where, reason,
                         SkippedAnswer(qas_id=qas_id, found="", expected=text, reason=reason))
        first_char += len(text) - len(text.lstrip())
        last_char -= len(text) - len(text.rstrip())
    start_word = context.word_of_char(first_char)
    end_word = context.word_of_char(last_char)
    # Google keeps a training answer only if its doc tokens contain the answer text after
    # whitespace normalisation; otherwise it skips the question (A.2). Character doc tokens
    # are compared joined without spaces, as the CMRC baseline does.
    found = context.words_text(start_word, end_word)
    expected = ("" if context.chinese else " ").join(text.split())
    if expected not in found:
        return _skip(result, strict, path, where,
                     f"answer {expected!r} is not in its doc tokens {found!r}",
                     SkippedAnswer(qas_id=qas_id, found=found, expected=expected))
    question.answer_text = text
    question.start_word = start_word
    question.end_word = end_word
    return question


def _skip(result: SquadReadResult, strict: bool, path: Path, where: str, message: str,
          skipped: SkippedAnswer) -> None:
    """A training question dropped: counted in ``result``, or with ``strict`` an error."""
    if strict:
        raise InputError(path, message, where)
    result.skipped.append(skipped)


def _place_chinese_answer(
    context: str,
    qas_id: str,
    answer_index: int,
    text: str,
    start: int,
    path: Path,
    where: str,
    result: SquadReadResult,
    strict: bool,
) -> int:
    """The answer's checked (or repaired) start, or -1 when it cannot be placed; both
    counted in ``result``, and an error instead when ``strict``."""
    if text and start >= 0 and context.startswith(text, start):
        return start  # aligned, as nearly all are: what place_answer finds first
    placement = place_answer(context, text, start)
    if placement.status == "aligned":
        return start
    if strict:
        action = "would be repaired" if placement.status == "repaired" else "cannot be placed"
        raise InputError(
            path, f"answer {text!r} is not at answer_start {start} and {action} "
            f"({placement.reason}); drop --strict to repair or skip such answers", where
        )
    if placement.status == "repaired":
        result.repaired.append(RepairedAnswer(qas_id, answer_index, start, placement.start))
    else:
        result.skipped.append(
            SkippedAnswer(qas_id=qas_id, found="", expected=text, reason=placement.reason)
        )
    return placement.start
