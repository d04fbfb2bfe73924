"""`bertkit prep pretrain`: text corpus -> masked-LM + NSP pretraining TFRecords."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bertkit.commands._common import (
    DoLowerCaseOption,
    JsonOption,
    MaxSeqLengthOption,
    OutputDirOption,
    SpmModelOption,
    VerboseOption,
    VocabOption,
    guarded,
    print_json,
)

HELP = """Make BERT pretraining data (masked LM + next sentence prediction) from text:
one sentence per line, a blank line between documents (WikiExtractor <doc> lines are
document boundaries too). INPUT is files, directories or glob patterns.

Each input file is one shard, written to OUTPUT/pretrain-NNNNN-of-MMMMM.tf_record (with
its index and MindSpore schema, masked_lm_weights float32) and processed on its own, so
memory does not grow with the corpus. For one input file the records are identical to
Google's create_pretraining_data.py (master eedf571) with the same flags and seed; shard
i > 0 uses a seed derived from --random-seed and i, so --workers and --dask-scheduler
never change the bytes. manifest.json holds the counts and every shard's sha256;
--resume skips shards already complete.
"""


def command(
    inputs: Annotated[list[str], typer.Argument(
        metavar="INPUT...", help="Text files, directories or glob patterns.")],
    output: OutputDirOption,
    vocab: VocabOption = None,
    spm_model: SpmModelOption = None,
    do_lower_case: DoLowerCaseOption = True,
    max_seq_length: MaxSeqLengthOption = 128,
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
    workers: Annotated[int, typer.Option(
        "--workers", help="Shards processed in parallel; 0 = every core.")] = 1,
    dask_scheduler: Annotated[str | None, typer.Option(
        "--dask-scheduler", metavar="ADDRESS",
        help="Run the shards on a Dask cluster (tcp://HOST:8786); inputs and OUTPUT must "
             "be on a path every worker sees.")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Keep shards whose manifest entry and sha256 are complete.")] = False,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    def run() -> None:
        from bertkit.console import progress_enabled
        from bertkit.prep.pretrain import PretrainOptions, create_pretraining_data
        from bertkit.prep.pretrain.report import print_pretrain_summary

        options = PretrainOptions(
            vocab=str(vocab) if vocab else None,
            spm_model=str(spm_model) if spm_model else None,
            do_lower_case=do_lower_case, max_seq_length=max_seq_length,
            max_predictions_per_seq=max_predictions_per_seq, masked_lm_prob=masked_lm_prob,
            short_seq_prob=short_seq_prob, dupe_factor=dupe_factor, random_seed=random_seed,
            whole_word_mask=whole_word_mask, sentence_split=sentence_split)
        result = create_pretraining_data(
            inputs, output, options, workers=workers, dask_scheduler=dask_scheduler,
            resume=resume, progress=progress_enabled(json_output))
        if json_output:
            print_json(result.manifest)
        else:
            print_pretrain_summary(result)

    guarded(verbose, run)


command.__doc__ = HELP
