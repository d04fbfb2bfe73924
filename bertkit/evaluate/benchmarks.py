"""The public benchmarks' task names and label sets (GLUE, TNEWS, CLUENER), defined once.

``evaluate`` is the lowest layer that needs them (detection and scoring); ``prep`` (label
ids), ``predict`` and ``submit`` read them from here. A label tuple's order is the label ids'
order: Google's processors where Google has one (CoLA, MRPC, MNLI), the GLUE / Hugging Face
processors' otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GlueBenchmarkTask:
    key: str  # canonical lower-case key: "sst-2"; eval's task is "glue-<key>"
    name: str  # GLUE's spelling: the data folder and the submission file ("SST-2")
    labels: tuple[str, ...] | None  # in id order; None: regression (STS-B)
    scored: bool = True  # has a labelled dev split to score (the diagnostic set AX has none)


BINARY = ("0", "1")
ENTAILMENT = ("entailment", "not_entailment")
NLI = ("contradiction", "entailment", "neutral")  # Google's MnliProcessor order

GLUE: dict[str, GlueBenchmarkTask] = {task.key: task for task in (
    GlueBenchmarkTask("cola", "CoLA", BINARY),
    GlueBenchmarkTask("sst-2", "SST-2", BINARY),
    GlueBenchmarkTask("mrpc", "MRPC", BINARY),
    GlueBenchmarkTask("sts-b", "STS-B", None),
    GlueBenchmarkTask("qqp", "QQP", BINARY),
    GlueBenchmarkTask("mnli", "MNLI", NLI),
    GlueBenchmarkTask("qnli", "QNLI", ENTAILMENT),
    GlueBenchmarkTask("rte", "RTE", ENTAILMENT),
    GlueBenchmarkTask("wnli", "WNLI", BINARY),
    # GLUE's diagnostic set is answered by an MNLI model, so it takes MNLI's labels.
    GlueBenchmarkTask("ax", "AX", NLI, scored=False),
)}
# The GLUE tasks `bertkit eval` scores (every one with a labelled dev split).
GLUE_SCORED_TASKS: tuple[str, ...] = tuple(key for key, task in GLUE.items() if task.scored)
GLUE_ALIASES = {"sst2": "sst-2", "stsb": "sts-b", "mnli-m": "mnli", "mnli-mm": "mnli",
                "diagnostic": "ax"}


# The leaderboard's submission slots -> their task: one per task, MNLI's matched and
# mismatched test sets apart.
GLUE_SUBMISSION_SLOTS: dict[str, str] = {
    slot: key for key in GLUE for slot in (("mnli-m", "mnli-mm") if key == "mnli" else (key,))}


def glue_key(name: str) -> str | None:
    """``CoLA`` / ``glue-sst2`` / ``STS-B`` / ``diagnostic`` -> the task's key, else None."""
    key = name.lower().removeprefix("glue-")
    key = GLUE_ALIASES.get(key, key)
    return key if key in GLUE else None


# TNEWS: the 15 label codes in id order, as the CLUE baseline's `TnewsProcessor.get_labels`
# (str(100 + i) for i in 0..16 except 5 and 11, codes the data set does not use).
TNEWS_LABELS: tuple[str, ...] = tuple(str(100 + i) for i in range(17) if i not in (5, 11))

# CLUENER2020's 10 entity types, in the official scorer's order (also the label id order).
CLUENER_TYPES: tuple[str, ...] = (
    "address", "book", "company", "game", "government",
    "movie", "name", "organization", "position", "scene",
)
