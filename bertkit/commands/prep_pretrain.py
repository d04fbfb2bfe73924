"""`bertkit prep pretrain`: text corpus -> masked-LM + NSP pretraining TFRecords."""

from __future__ import annotations

from typing import Annotated

import typer

from bertkit.commands._prep_runner import PrepContext, PrepOutcome, all_shared_but, prep_command

SUMMARY = "Text corpus -> masked-LM + NSP pretraining records."
HELP = """Make BERT pretraining data (masked LM + next sentence prediction) from text:
one sentence per line, a blank line between documents (WikiExtractor <doc> lines are
document boundaries too). INPUT is files, directories or glob patterns.

Each input file is one shard, written to OUTPUT_DIR/pretrain-NNNNN-of-MMMMM.tf_record (with
its index and MindSpore schema, masked_lm_weights float32) and processed on its own, so
memory does not grow with the corpus. For one input file the records are identical to
Google's create_pretraining_data.py (master eedf571) with the same flags and seed; shard
i > 0 uses a seed derived from --random-seed and i, so --workers and --dask-scheduler
never change the bytes. manifest.json holds the counts and every shard's sha256;
--resume skips shards already complete.
"""


# Pretraining data has no splits: every shared option but --split.
@prep_command("pretrain", summary=SUMMARY, help=HELP, shared=all_shared_but("split"))
def command(
    prep: PrepContext,
    inputs: Annotated[list[str], typer.Argument(
        metavar="INPUT...", help="Text files, directories or glob patterns.")],
    max_predictions_per_seq: Annotated[int, typer.Option(
        "--max-predictions-per-seq", help="Masked positions per record at most.")] = 20,
    masked_lm_prob: Annotated[float, typer.Option(
        "--masked-lm-prob", help="Share of tokens to mask, in (0, 1).")] = 0.15,
    short_seq_prob: Annotated[float, typer.Option(
        "--short-seq-prob", help="Chance of a shorter target length per document pass.")] = 0.1,
    dupe_factor: Annotated[int, typer.Option(
        "--dupe-factor", help="Passes over the corpus, each with other masks.")] = 10,
    random_seed: Annotated[int, typer.Option("--random-seed", help="Seed of shard 0.")] = 12345,
    whole_word_mask: Annotated[str, typer.Option(
        "--whole-word-mask", metavar="none|wordpiece|jieba|ref:FILE",
        help="Mask whole words: ## pieces (Google), jieba words (Chinese), or a "
             "Hugging Face run_chinese_ref.py ref file.")] = "none",
    sentence_split: Annotated[str | None, typer.Option(
        "--sentence-split", metavar="en|zh",
        help="Split paragraph lines into sentences (rule-based).")] = None,
    dask_scheduler: Annotated[str | None, typer.Option(
        "--dask-scheduler", metavar="ADDRESS",
        help="Run the shards on a Dask cluster (tcp://HOST:8786); inputs and OUTPUT_DIR must "
             "be on a path every worker sees.")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Keep shards whose manifest entry and sha256 are complete.")] = False,
) -> PrepOutcome:
    from bertkit.prep.pretrain import PretrainOptions, create_pretraining_data
    from bertkit.prep.pretrain.report import print_pretrain_summary

    options = PretrainOptions(
        vocab=str(prep.vocab) if prep.vocab else None,
        spm_model=str(prep.spm_model) if prep.spm_model else None,
        do_lower_case=prep.do_lower_case, max_seq_length=prep.max_seq_length or 128,
        max_predictions_per_seq=max_predictions_per_seq, masked_lm_prob=masked_lm_prob,
        short_seq_prob=short_seq_prob, dupe_factor=dupe_factor, random_seed=random_seed,
        whole_word_mask=whole_word_mask, sentence_split=sentence_split)
    result = create_pretraining_data(
        inputs, prep.output, options, workers=prep.workers, dask_scheduler=dask_scheduler,
        resume=resume, progress=prep.progress)
    return PrepOutcome(result.manifest, summary=lambda: print_pretrain_summary(result))
