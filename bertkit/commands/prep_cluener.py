"""`bertkit prep cluener`: CLUENER2020 JSON lines -> per-character NER records."""

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

HELP_PARAGRAPHS = (
    "Convert CLUENER2020 train/dev/test.json into NER records (TFRecord).",
    ("Writes OUTDIR/<split>.tf_record (input_ids, input_mask, segment_ids, label_ids: one id "
     "per position, 0 = O at [CLS], [SEP] and padding) with its .index and .schema.json, "
     "<split>.offsets.jsonl (every position's character offsets in the original text), "
     "label2id.json, label_types.txt and manifest.json (last). Give every split in one call "
     "to get one manifest."),
    ("One position per character: a character the tokenizer drops (spaces, control "
     "characters) becomes [UNK], so spans never shift. The test file (no labels) converts "
     "with all-O labels. Overlapping entities keep the longer one, with a warning naming the "
     "line (--strict: an error)."),
)
HELP = "\n\n".join(HELP_PARAGRAPHS)


def command(
    inputs: Annotated[list[Path], typer.Argument(
        metavar="INPUT...",
        help="CLUENER files (the split comes from each name), or a directory holding "
             "train/dev/test.json.")],
    output: OutputDirOption,
    vocab: VocabOption = None,
    spm_model: SpmModelOption = None,
    do_lower_case: DoLowerCaseOption = True,
    max_seq_length: MaxSeqLengthOption = 128,
    scheme: Annotated[str, typer.Option(
        "--scheme", help="cluener (CLUENER's 41-label BMES label2id), bio or bioes.")] = "cluener",
    strict: Annotated[bool, typer.Option(
        "--strict", help="Overlapping entities are an error instead of a warning.")] = False,
    split: SplitNameOption = None,
    workers: WorkersOption = 0,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    def run() -> None:
        from bertkit.console import progress_enabled
        from bertkit.prep.cluener import convert_cluener
        from bertkit.prep.ner_report import print_first_records, print_ner_summary
        from bertkit.prep.outputs import resolve_workers

        result = convert_cluener(
            inputs, output, vocab=vocab, spm_model=spm_model, do_lower_case=do_lower_case,
            scheme=scheme, max_seq_length=max_seq_length, strict=strict, split=split,
            workers=resolve_workers(workers), show_progress=progress_enabled(json_output))
        if json_output:
            print_json(result.manifest)  # files and counts for machines
        else:
            if verbose:
                print_first_records(result)
            print_ner_summary(result, "CLUENER")

    guarded(verbose, run)


command.__doc__ = HELP
