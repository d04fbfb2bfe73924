"""`bertkit prep tnews`: CLUE TNEWS JSON lines -> TFRecords (CLUE layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bertkit.commands._prep_runner import InputsArgument, PrepContext, prep_command
from bertkit.prep.result import PrepResult

SUMMARY = "CLUE TNEWS JSON lines -> classification records."
HELP = """Convert CLUE TNEWS JSON-lines files (or a directory holding train/dev/test.json) into
OUTPUT_DIR/SPLIT.tf_record with input_ids, input_mask, segment_ids, label_ids and
is_real_example, exactly as the CLUE baseline's run_classifier.py lays them out, plus the
index, MindSpore schema, label2id.json and manifest.json.

SPLIT is train, dev or test (from each file name, or --split); test is read without labels.
Labels: the 15 CLUE codes 100-116 without 105 and 111, ids 0-14 in that order (checked
against labels.json next to the input, or --labels). A test split's label id is 0.
--with-keywords puts the keywords field in the second segment. Duplicate lines are kept
and counted.
"""


WithKeywordsOption = Annotated[bool, typer.Option(
    "--with-keywords", help="Put the keywords field in the second segment.")]
LabelsFileOption = Annotated[Path | None, typer.Option(
    "--labels", metavar="LABELS_JSON",
    help="labels.json to check the label codes against "
         "(default: the one beside the input, if any).")]


@prep_command("tnews", summary=SUMMARY, help=HELP)
def command(prep: PrepContext, inputs: InputsArgument, with_keywords: WithKeywordsOption = False,
            labels_file: LabelsFileOption = None) -> PrepResult:
    from bertkit.prep.classification.tnews import convert_tnews

    return convert_tnews(
        inputs, prep.output, vocab=prep.vocab, spm_model=prep.spm_model,
        do_lower_case=prep.do_lower_case, max_seq_length=prep.max_seq_length,
        with_keywords=with_keywords, labels_file=labels_file, split=prep.split,
        workers=prep.workers, progress=prep.progress)
