"""`bertkit inspect FILE`: record count, features, a CRC check and the first records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from bertkit.commands._common import JsonOption, VerboseOption, guarded, print_json
from bertkit.console import info, stderr_console

# Values longer than this are cut in the human view; --json always has them all.
_SHOWN_VALUES = 24


def command(
    file: Annotated[Path, typer.Argument(
        metavar="FILE", help="A TFRecord file of tf.train.Example records.")],
    vocab: Annotated[
        Path | None, typer.Option("--vocab", help="vocab.txt: show input_ids as tokens.")
    ] = None,
    spm_model: Annotated[
        Path | None,
        typer.Option("--spm-model", help="SentencePiece model: show input_ids as pieces."),
    ] = None,
    num_records: Annotated[
        int, typer.Option("-n", "--num-records", min=0, help="How many records to show.")
    ] = 3,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Check a TFRecord file and show what it holds.

    Counts the records, lists each feature's dtype and length, checks both CRCs of
    every record and shows the first records (input_ids as tokens with --vocab). A
    damaged file exits 1 with one line naming the record and its byte offset.
    """
    guarded(verbose, lambda: _inspect(file, vocab, spm_model, num_records, json_output))


def _inspect(
    file: Path, vocab: Path | None, spm_model: Path | None, num_records: int, json_output: bool
) -> None:
    from bertkit.tfrecord.summary import record_to_json, summarize_file

    tokenizer = None
    if vocab is not None or spm_model is not None:  # fail on a bad vocab before reading data
        from bertkit.tokenization import load_tokenizer

        tokenizer = load_tokenizer(vocab=vocab, spm_model=spm_model)
    summary = summarize_file(file, num_records)
    shown = [record_to_json(record) for record in summary.first_records]
    if tokenizer is not None:
        from bertkit.prep.pretrain.view import masked_view

        for record in shown:
            if "input_ids" in record:
                record["input_tokens"] = tokenizer.convert_ids_to_tokens(
                    _without_padding(record["input_ids"], record.get("input_mask"))
                )
            view = masked_view(record, tokenizer)  # pretraining records: masks marked
            if view is not None:
                record["masked_tokens"] = view
    if json_output:
        result = summary.to_json()
        result["first_records"] = shown
        print_json(result)
        return
    _print_tables(summary, shown)


def _without_padding(ids: list[int], mask: list[int] | None) -> list[int]:
    """The ids up to the last real token: BERT pads with id 0 where input_mask is 0."""
    if mask is not None and len(mask) == len(ids):
        real = [index for index, flag in enumerate(mask) if flag]
        return ids[: real[-1] + 1] if real else []
    return ids


def _print_tables(summary: Any, shown: list[dict[str, Any]]) -> None:
    # The path on a line of its own: as a table title it would wrap mid-name.
    info(f"file: {summary.path}")
    overview = Table(title="inspect", show_header=False, title_justify="left")
    overview.add_column("what", style="bold")
    overview.add_column("value")
    overview.add_row("records", f"{summary.records:,}")
    overview.add_row("size", f"{summary.size_bytes:,} bytes")
    overview.add_row("CRC check", "ok (every record, both checksums)")
    overview.add_row("index", summary.index_status)
    overview.add_row("schema", summary.schema_status)
    stderr_console.print(overview)

    features = Table(title="features", title_justify="left")
    for column in ("name", "dtype", "length", "records"):
        features.add_column(column, justify="right" if column == "records" else "left")
    for name in sorted(summary.features):
        stats = summary.features[name].to_json()
        length = stats["length"]
        features.add_row(
            name, stats["dtype"],
            str(length) if isinstance(length, int) else f"{length[0]}..{length[1]}",
            f"{stats['records']:,}",
        )
    stderr_console.print(features)

    for number, record in enumerate(shown):
        table = Table(title=f"record {number}", show_header=False, title_justify="left")
        table.add_column("feature", style="bold")
        table.add_column("values", overflow="fold")
        for name, values in record.items():
            table.add_row(name, _abbreviate(values, name in ("input_tokens", "masked_tokens")))
        stderr_console.print(table)


def _abbreviate(values: list[Any], whole: bool) -> str:
    if whole:
        return " ".join(str(value) for value in values)
    text = " ".join(str(value) for value in values[:_SHOWN_VALUES])
    if len(values) > _SHOWN_VALUES:
        text += f" ... ({len(values)} values)"
    return text
