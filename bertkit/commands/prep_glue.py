"""`bertkit prep glue TASK`: GLUE TSV files -> TFRecords like Google's run_classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bertkit.commands._common import (
    DoLowerCaseOption,
    JsonOption,
    MaxSeqLengthOption,
    OutputDirOption,
    SplitNameOption,
    SpmModelOption,
    VerboseOption,
    VocabOption,
    WorkersOption,
    guarded,
    print_json,
)

HELP = """Convert GLUE TSV files (or a task directory) into OUTPUT/<split>.tf_record with
input_ids, input_mask, segment_ids, label_ids and is_real_example, exactly as Google's
run_classifier.py writes them, plus the index, MindSpore schema, label2id.json and
manifest.json.

TASK: CoLA, SST-2, MRPC, STS-B, QQP, QNLI, RTE, WNLI, MNLI (dev_matched/dev_mismatched,
test_matched/test_mismatched) or AX (the diagnostic set). Each file is read in its official
layout: header or not, columns by position, BOM dropped, quotes literal. A directory
converts every official split file it holds. Test files have no labels (label id 0).
STS-B's label_ids is one float32 score.
"""


def command(
    task: Annotated[str, typer.Argument(metavar="TASK", help="GLUE task name, e.g. MRPC.")],
    inputs: Annotated[list[Path], typer.Argument(
        metavar="INPUT_FILE_OR_DIR...", help="GLUE .tsv files, or the task's directory.")],
    output: OutputDirOption,
    vocab: VocabOption = None,
    spm_model: SpmModelOption = None,
    max_seq_length: MaxSeqLengthOption = 128,
    do_lower_case: DoLowerCaseOption = True,
    split: SplitNameOption = None,
    workers: WorkersOption = 0,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    def run() -> None:
        from bertkit.console import progress_enabled
        from bertkit.prep.classification import print_conversion_summary, print_preview
        from bertkit.prep.glue import convert_glue

        result = convert_glue(
            task, inputs, output, vocab=vocab, spm_model=spm_model, do_lower_case=do_lower_case,
            max_seq_length=max_seq_length, split=split, workers=workers,
            progress=progress_enabled(json_output))
        if verbose:
            print_preview(result)
        if json_output:
            print_json(result.manifest)
        else:
            print_conversion_summary(result, f"prep glue {result.manifest['task']}")

    guarded(verbose, run)


command.__doc__ = HELP
