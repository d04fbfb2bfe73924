"""`bertkit prep chinesener`: zjy-ucas/ChineseNER `char tag` files -> NER records."""

from __future__ import annotations

from typing import Annotated

import typer

from bertkit.commands._prep_runner import InputsArgument, PrepContext, prep_command
from bertkit.prep.result import PrepResult

SUMMARY = "ChineseNER CHAR TAG lines -> per-character NER records."
HELP = "\n\n".join((
    "Convert ChineseNER example.train/dev/test (CHAR TAG lines, IOB tags) into NER records.",
    ("Writes OUTPUT_DIR/SPLIT.tf_record (input_ids, input_mask, segment_ids, label_ids: one "
     "id per position, 0 = O at [CLS], [SEP] and padding; plus seg_ids with --word-features "
     "jieba) with its .index and .schema.json, SPLIT.offsets.jsonl (every position's "
     "character offsets), label2id.json and manifest.json (last). SPLIT is train, dev or "
     "test (from each file name, or --split)."),
    ("One position per character line. Sentences longer than --max-seq-length minus 2 are "
     "truncated and counted; an entity cut at the end is shortened to stay well-formed."),
))


SchemeOption = Annotated[str, typer.Option(
    "--scheme", help="iobes (the original's default) or iob2.")]
TypesOption = Annotated[str, typer.Option(
    "--types", help="Entity types, comma-separated, in label-id order.")]
WordFeaturesOption = Annotated[str | None, typer.Option(
    "--word-features", help="jieba: add seg_ids (0 single, 1 first, 2 inner, 3 last "
                            "character of a jieba word).")]


@prep_command("chinesener", summary=SUMMARY, help=HELP)
def command(prep: PrepContext, inputs: InputsArgument, scheme: SchemeOption = "iobes",
            types: TypesOption = "PER,LOC,ORG",
            word_features: WordFeaturesOption = None) -> PrepResult:
    from bertkit.prep.ner.chinesener import convert_chinesener

    return convert_chinesener(
        inputs, prep.output, vocab=prep.vocab, spm_model=prep.spm_model,
        do_lower_case=prep.do_lower_case, scheme=scheme,
        types=[name.strip() for name in types.split(",") if name.strip()],
        max_seq_length=prep.max_seq_length, word_features=word_features, split=prep.split,
        workers=prep.workers, show_progress=prep.progress)
