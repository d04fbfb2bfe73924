"""`bertkit prep cluener`: CLUENER2020 JSON lines -> per-character NER records."""

from __future__ import annotations

from typing import Annotated

import typer

from bertkit.commands._prep_runner import InputsArgument, PrepContext, prep_command
from bertkit.prep.result import PrepResult

SUMMARY = "CLUENER2020 JSON lines -> per-character NER records."
HELP = "\n\n".join((
    "Convert CLUENER2020 train/dev/test.json into NER records (TFRecord).",
    ("Writes OUTPUT_DIR/SPLIT.tf_record (input_ids, input_mask, segment_ids, label_ids: one "
     "id per position, 0 = O at [CLS], [SEP] and padding) with its .index and .schema.json, "
     "SPLIT.offsets.jsonl (every position's character offsets in the original text), "
     "label2id.json, label_types.txt and manifest.json (last). Give every split in one call "
     "to get one manifest. SPLIT is train, dev or test (from each file name, or --split)."),
    ("One position per character: a character the tokenizer drops (spaces, control "
     "characters) becomes [UNK], so spans never shift. A file without labels (the test "
     "file) converts with all-O labels. Overlapping entities keep the longer one, with a "
     "warning naming the line (--strict: an error)."),
))


SchemeOption = Annotated[str, typer.Option(
    "--scheme", help="cluener (CLUENER's 41-label BMES label2id), bio or bioes.")]
StrictOption = Annotated[bool, typer.Option(
    "--strict", help="Overlapping entities are an error instead of a warning.")]


@prep_command("cluener", summary=SUMMARY, help=HELP)
def command(prep: PrepContext, inputs: InputsArgument, scheme: SchemeOption = "cluener",
            strict: StrictOption = False) -> PrepResult:
    from bertkit.prep.ner.cluener import convert_cluener

    return convert_cluener(
        inputs, prep.output, vocab=prep.vocab, spm_model=prep.spm_model,
        do_lower_case=prep.do_lower_case, scheme=scheme, max_seq_length=prep.max_seq_length,
        strict=strict, split=prep.split, workers=prep.workers, show_progress=prep.progress)
