"""`bertkit prep squad`: SQuAD v1.1/v2.0 JSON -> TFRecord features identical to Google's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bertkit.commands._prep_runner import PrepContext, all_shared_but, prep_command
from bertkit.prep.result import PrepResult

SUMMARY = "SQuAD v1.1/v2.0 JSON -> Google's run_squad.py features."
HELP = """Convert a SQuAD v1.1/v2.0 JSON file into BERT features (TFRecord).

--split train writes OUTPUT_DIR/train.tf_record (unique_ids, input_ids, input_mask,
segment_ids, start_positions, end_positions, is_impossible); --split eval (or dev, another
name for it) writes OUTPUT_DIR/eval.tf_record (unique_ids, input_ids, input_mask,
segment_ids) and squad_eval.json, everything `bertkit predict` needs to turn logits into
answers; each with its .index and .schema.json, and manifest.json (last). Records equal
Google's run_squad.py converter value for value. Training examples are shuffled with
random.Random(12345) before conversion, exactly as Google's run_squad.py (and MindSpore's
generator) do; pass --no-shuffle to keep the file's order. Eval is never shuffled.

Chinese files (CMRC 2018, DRCD): --doc-tokens auto (the default) switches to the CMRC
baseline's character doc tokens when most context characters are CJK, so answers are
labelled at their annotated positions and predictions are exact substrings of the context.
Answers whose text is not at answer_start are repaired from the text (the occurrence
nearest the given start, or the only one) or skipped, and counted; --strict makes either
an error. The baseline's setting is --max-seq-length 512 --doc-stride 128.
"""


@prep_command("squad", summary=SUMMARY, help=HELP,
              shared=all_shared_but("split", "max_seq_length"))
def command(
    prep: PrepContext,
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="SQuAD JSON file.")],
    split: Annotated[str, typer.Option(
        "--split", metavar="SPLIT",
        help="train, or eval for scoring (dev is another name for eval).")],
    version_2_with_negative: Annotated[bool, typer.Option(
        "--version-2-with-negative",
        help="SQuAD 2.0: read is_impossible (unanswerable questions).")] = False,
    max_seq_length: Annotated[int, typer.Option(
        "--max-seq-length", help="Tokens per window (<= 512).")] = 384,
    doc_stride: Annotated[int, typer.Option(
        "--doc-stride", help="Step between windows, in pieces.")] = 128,
    max_query_length: Annotated[int, typer.Option(
        "--max-query-length", help="Question pieces kept (longer questions are truncated).")] = 64,
    shuffle: Annotated[bool, typer.Option(
        "--shuffle/--no-shuffle",
        help="Train only: shuffle examples with random.Random(12345), "
             "as Google's run_squad.py does.")] = True,
    doc_tokens: Annotated[str, typer.Option(
        "--doc-tokens", metavar="auto|whitespace|cjk-chars",
        help="How contexts become doc tokens: whitespace (Google's run_squad.py), cjk-chars "
             "(CMRC 2018 baseline: each CJK character and punctuation mark its own token; "
             "for CMRC/DRCD), or auto (cjk-chars when most context characters are CJK).")
    ] = "auto",
    strict: Annotated[bool, typer.Option(
        "--strict",
        help="An answer that must be repaired (its text is not at answer_start) or skipped "
             "is an error naming the question.")] = False,
) -> PrepResult:
    from bertkit.console import make_progress
    from bertkit.prep.squad.convert import PHASES, SquadPrepOptions, prep_squad

    options = SquadPrepOptions(
        split=split, max_seq_length=max_seq_length, doc_stride=doc_stride,
        max_query_length=max_query_length, version_2_with_negative=version_2_with_negative,
        do_lower_case=prep.do_lower_case, shuffle=shuffle, doc_tokens=doc_tokens,
        strict=strict)
    options.validate()  # option errors before the progress display starts
    with make_progress(prep.progress) as progress:
        task = progress.add_task("prep squad", total=len(PHASES))

        def on_phase(name: str) -> None:
            progress.update(task, description=name, completed=PHASES.index(name))

        return prep_squad(input_path, prep.output, options, vocab=prep.vocab,
                          spm_model=prep.spm_model, workers=prep.workers, on_phase=on_phase)
