"""`bertkit prep glue TASK`: GLUE TSV files -> TFRecords like Google's run_classifier."""

from __future__ import annotations

from typing import Annotated

import typer

from bertkit.commands._prep_runner import (InputsArgument, PrepContext, all_shared_but,
                                           prep_command)
from bertkit.prep.result import PrepResult

SUMMARY = "GLUE TSV files -> Google's run_classifier.py records."
HELP = """Convert GLUE TSV files (or a task directory) into OUTPUT_DIR/SPLIT.tf_record with
input_ids, input_mask, segment_ids, label_ids and is_real_example, exactly as Google's
run_classifier.py writes them, plus the index, MindSpore schema, label2id.json and
manifest.json.

TASK: CoLA, SST-2, MRPC, STS-B, QQP, QNLI, RTE, WNLI, MNLI (dev_matched/dev_mismatched,
test_matched/test_mismatched) or AX (the diagnostic set). Each file is read in its official
layout: header or not, columns by position, BOM dropped, quotes literal. A directory
converts every official split file it holds. SPLIT is the task's split name (train, dev,
test; MNLI's five; AX's test), from each file name or --split; the test splits have no
labels (label id 0). STS-B's label_ids is one float32 score.
"""


TaskArgument = Annotated[str, typer.Argument(metavar="TASK", help="GLUE task name, e.g. MRPC.")]
# GLUE declares its own --split: MNLI's split names are not the shared option's.
GlueSplitOption = Annotated[str | None, typer.Option(
    "--split", metavar="SPLIT",
    help="train, dev or test (MNLI: train, dev_matched, dev_mismatched, test_matched, "
         "test_mismatched), when the file name does not say.")]


@prep_command("glue", summary=SUMMARY, help=HELP, shared=all_shared_but("split"))
def command(prep: PrepContext, task: TaskArgument, inputs: InputsArgument,
            split: GlueSplitOption = None) -> PrepResult:
    from bertkit.prep.classification.glue import convert_glue

    return convert_glue(
        task, inputs, prep.output, vocab=prep.vocab, spm_model=prep.spm_model,
        do_lower_case=prep.do_lower_case, max_seq_length=prep.max_seq_length, split=split,
        workers=prep.workers, progress=prep.progress)
