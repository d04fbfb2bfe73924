"""`bertkit prep tnews`: CLUE TNEWS JSON lines -> TFRecords (CLUE layout)."""

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

HELP = """Convert CLUE TNEWS JSON-lines files (or a directory holding train/dev/test.json) into
OUTPUT/<split>.tf_record with input_ids, input_mask, segment_ids, label_ids and
is_real_example, exactly as the CLUE baseline's run_classifier.py lays them out, plus the
index, MindSpore schema, label2id.json and manifest.json.

Labels: the 15 CLUE codes 100-116 without 105 and 111, ids 0-14 in that order (checked
against labels.json next to the input, or --labels). A test split's label id is 0.
--with-keywords puts the keywords field in the second segment. Duplicate lines are kept
and counted.
"""


def command(
    inputs: Annotated[list[Path], typer.Argument(
        metavar="INPUT_FILE_OR_DIR...", help="TNEWS .json files, or a directory of them.")],
    output: OutputDirOption,
    vocab: VocabOption = None,
    spm_model: SpmModelOption = None,
    max_seq_length: MaxSeqLengthOption = 128,
    do_lower_case: DoLowerCaseOption = True,
    with_keywords: Annotated[bool, typer.Option(
        "--with-keywords", help="Put the keywords field in the second segment.")] = False,
    labels_file: Annotated[Path | None, typer.Option(
        "--labels", help="labels.json to check the label codes against "
                         "(default: the one beside the input, if any).")] = None,
    split: SplitNameOption = None,
    workers: WorkersOption = 0,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    def run() -> None:
        from bertkit.console import progress_enabled
        from bertkit.prep.classification import print_conversion_summary, print_preview
        from bertkit.prep.tnews import convert_tnews

        result = convert_tnews(
            inputs, output, vocab=vocab, spm_model=spm_model, do_lower_case=do_lower_case,
            max_seq_length=max_seq_length, with_keywords=with_keywords, labels_file=labels_file,
            split=split, workers=workers, progress=progress_enabled(json_output))
        if verbose:
            print_preview(result)
        if json_output:
            print_json(result.manifest)
        else:
            print_conversion_summary(result, "prep tnews", result.manifest["label_desc"])

    guarded(verbose, run)


command.__doc__ = HELP
