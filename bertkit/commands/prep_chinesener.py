"""`bertkit prep chinesener`: zjy-ucas/ChineseNER `char tag` files -> NER records."""

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
    "Convert ChineseNER example.train/dev/test (CHAR TAG lines, IOB tags) into NER records.",
    ("Writes OUTDIR/<split>.tf_record (input_ids, input_mask, segment_ids, label_ids: one id "
     "per position, 0 = O at [CLS], [SEP] and padding; plus seg_ids with --word-features "
     "jieba) with its .index and .schema.json, <split>.offsets.jsonl (every position's "
     "character offsets), label2id.json and manifest.json (last)."),
    ("One position per character line. Sentences longer than --max-seq-length minus 2 are "
     "truncated and counted; an entity cut at the end is shortened to stay well-formed."),
)
HELP = "\n\n".join(HELP_PARAGRAPHS)


def command(
    inputs: Annotated[list[Path], typer.Argument(
        metavar="INPUT...",
        help="ChineseNER files (the split comes from each name), or a directory holding "
             "example.train/dev/test.")],
    output: OutputDirOption,
    vocab: VocabOption = None,
    spm_model: SpmModelOption = None,
    do_lower_case: DoLowerCaseOption = True,
    max_seq_length: MaxSeqLengthOption = 128,
    scheme: Annotated[str, typer.Option(
        "--scheme", help="iobes (the original's default) or iob2.")] = "iobes",
    types: Annotated[str, typer.Option(
        "--types", help="Entity types, comma-separated, in label-id order.")] = "PER,LOC,ORG",
    word_features: Annotated[str | None, typer.Option(
        "--word-features", help="jieba: add seg_ids (0 single, 1 first, 2 inner, 3 last "
                                "character of a jieba word).")] = None,
    split: SplitNameOption = None,
    workers: WorkersOption = 0,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    def run() -> None:
        from bertkit.console import progress_enabled
        from bertkit.prep.chinesener import convert_chinesener
        from bertkit.prep.ner_report import print_first_records, print_ner_summary
        from bertkit.prep.outputs import resolve_workers

        result = convert_chinesener(
            inputs, output, vocab=vocab, spm_model=spm_model, do_lower_case=do_lower_case,
            scheme=scheme, types=[name.strip() for name in types.split(",") if name.strip()],
            max_seq_length=max_seq_length, word_features=word_features, split=split,
            workers=resolve_workers(workers), show_progress=progress_enabled(json_output))
        if json_output:
            print_json(result.manifest)  # files and counts for machines
        else:
            if verbose:
                print_first_records(result)
            print_ner_summary(result, "ChineseNER")

    guarded(verbose, run)


command.__doc__ = HELP
