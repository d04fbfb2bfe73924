"""`create_pretraining_data`: input shards -> record shards + manifest, locally or on Dask.

Each input file is one shard, processed on its own (`shard.run_shard`): memory is
bounded by the largest shard, never by the corpus, and shards run in any order on any
worker with the same bytes. For one input file the records equal Google's
`create_pretraining_data.py` with one output file, the same flags and seed.

`manifest.json` is rewritten (atomically) after every finished shard with
`"complete": false`, then once more with `"complete": true`. `--resume` reuses a shard
whose manifest entry exists and whose file still has the recorded sha256; options or
inputs that differ from the manifest's are refused.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertkit import __version__
from bertkit.errors import BertkitError, InputError, UsageError
from bertkit.fsutil import sha256_of_file, write_json_atomic
from bertkit.prep.pretrain.shard import (
    PretrainOptions,
    ShardResult,
    ShardTask,
    load_pretraining_tokenizer,
    run_shard,
    shard_file_name,
)
from bertkit.prep.outputs import (
    MANIFEST_NAME,
    check_max_seq_length,
    describe_input,
    describe_tokenizer,
    recorded_path,
    resolve_workers,
)
from bertkit.prep.staging import locked_output, refuse_overwriting_inputs
from bertkit.tfrecord import index_path_for, schema_path_for

COUNT_NAMES = ("documents", "sentences", "instances", "masked_positions", "random_next",
               "wwm_fallbacks")


@dataclass
class PretrainResult:
    output_dir: Path
    files: list[Path]
    counts: dict[str, Any]
    manifest: dict[str, Any]
    shards_run: int
    shards_resumed: int
    seconds: float = 0.0
    shards: list[ShardResult] = field(default_factory=list)


def validate_options(options: PretrainOptions) -> None:
    """Option errors (exit 2), before any file is read."""
    if (options.vocab is None) == (options.spm_model is None):
        raise UsageError("give exactly one of --vocab and --spm-model")
    check_max_seq_length(options.max_seq_length, 5)  # [CLS] A [SEP] B [SEP]
    if not 0.0 < options.masked_lm_prob < 1.0:
        raise UsageError(f"--masked-lm-prob must be in (0, 1), got {options.masked_lm_prob}")
    if not 0.0 <= options.short_seq_prob <= 1.0:
        raise UsageError(f"--short-seq-prob must be in [0, 1], got {options.short_seq_prob}")
    maskable = options.max_seq_length - 3
    if not 1 <= options.max_predictions_per_seq <= maskable:
        raise UsageError(
            f"--max-predictions-per-seq must be between 1 and {maskable} (the maskable "
            f"positions of a {options.max_seq_length}-token sequence), "
            f"got {options.max_predictions_per_seq}")
    if options.dupe_factor < 1:
        raise UsageError(f"--dupe-factor must be at least 1, got {options.dupe_factor}")
    mode = options.whole_word_mask
    if mode not in ("none", "wordpiece", "jieba") and not mode.startswith("ref:"):
        raise UsageError(f"--whole-word-mask must be none, wordpiece, jieba or ref:FILE, "
                         f"got {mode!r}")
    if mode != "none" and options.spm_model is not None:
        raise UsageError("--whole-word-mask needs a WordPiece --vocab, not --spm-model")
    if options.ref_file is not None:
        if options.sentence_split:
            raise UsageError("--whole-word-mask ref:FILE indexes input lines; "
                             "it cannot be combined with --sentence-split")
        if not Path(options.ref_file).is_file():
            raise UsageError(f"ref file not found: {options.ref_file}")
    if options.sentence_split not in (None, "en", "zh"):
        raise UsageError(f"--sentence-split must be en or zh, got {options.sentence_split!r}")


def expand_inputs(inputs: Sequence[str | Path], output_dir: Path | None = None) -> list[Path]:
    """Files as given; directories as their files (recursively, sorted, hidden ones and
    those under the output directory skipped); a pattern that is not a path as its sorted
    glob matches."""
    skip = output_dir.resolve() if output_dir is not None else None
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(child for child in path.rglob("*") if child.is_file() and not any(
                part.startswith(".") for part in child.relative_to(path).parts)
                and (skip is None or not child.resolve().is_relative_to(skip)))
            if not found:
                raise InputError(path, "directory holds no files")
            files += found
        elif path.exists():
            files.append(path)
        elif glob.has_magic(str(item)):
            matches = sorted(Path(match) for match in glob.glob(str(item), recursive=True)
                             if Path(match).is_file())
            if not matches:
                raise InputError(item, "no file matches this pattern")
            files += matches
        else:
            raise InputError(path, "file not found")
    return files


def create_pretraining_data(
    inputs: Sequence[str | Path],
    output_dir: str | Path,
    options: PretrainOptions,
    *,
    workers: int = 1,
    dask_scheduler: str | None = None,
    resume: bool = False,
    progress: bool = False,
) -> PretrainResult:
    started = time.perf_counter()
    validate_options(options)
    workers = resolve_workers(workers)  # 0: every core; < 0 is an option error
    files = expand_inputs(inputs, Path(output_dir))
    if not files:
        raise UsageError("no input files")
    if options.ref_file is not None and len(files) > 1:
        raise UsageError("--whole-word-mask ref:FILE describes one input file; got "
                         f"{len(files)} input files")
    outputs = [MANIFEST_NAME]
    for index in range(len(files)):
        record = Path(shard_file_name(index, len(files)))
        outputs += [record.name, index_path_for(record).name, schema_path_for(record).name]
    # The output set must never replace what this run reads (inputs, vocab, ref file).
    read = [*files, options.vocab, options.spm_model]
    if options.ref_file is not None:
        read.append(options.ref_file)
    refuse_overwriting_inputs(Path(output_dir), outputs, [p for p in read if p])
    tokenizer = load_pretraining_tokenizer(options)  # a bad vocab fails before any shard
    # One writer at a time: a second run into the same -o fails at once (issue 11).
    with locked_output(output_dir) as output:
        return _create(files, output, options, tokenizer, workers, dask_scheduler, resume,
                       progress, started)


def _create(files: list[Path], output: Path, options: PretrainOptions, tokenizer: Any,
            workers: int, dask_scheduler: str | None, resume: bool, progress: bool,
            started: float) -> PretrainResult:
    inputs_json = [describe_input(path) for path in files]
    done: dict[int, ShardResult] = {}
    if resume:
        done = _reusable_shards(output, options, inputs_json, len(files))
    tasks = [ShardTask(index, len(files), str(path.resolve()), str(output.resolve()), options)
             for index, path in enumerate(files) if index not in done]

    # describe() hashes the vocab: once per run, not once per manifest write.
    tokenizer_json = describe_tokenizer(tokenizer)

    def manifest(complete: bool) -> dict[str, Any]:
        return _write_manifest(output, options, tokenizer_json, inputs_json, done,
                               len(files), complete)

    from bertkit.console import make_progress

    with make_progress(progress) as bar:
        task_id = bar.add_task("shards", total=len(files), completed=len(done))
        instances = sum(result.counts["instances"] for result in done.values())
        for result in _run_tasks(tasks, workers, dask_scheduler):
            if result.error is not None:
                error = BertkitError(result.error)
                error.exit_code = result.exit_code
                raise error
            done[result.index] = result
            instances += result.counts["instances"]
            elapsed = max(time.perf_counter() - started, 1e-9)
            bar.update(task_id, advance=1, description=(
                f"shards ({instances:,} instances, {instances / elapsed:,.0f}/s)"))
            manifest(complete=False)
    final = manifest(complete=True)
    ordered = [done[index] for index in range(len(files))]
    return PretrainResult(
        output_dir=output,
        files=[output / result.file for result in ordered],
        counts=final["counts"],
        manifest=final,
        shards_run=len(tasks),
        shards_resumed=len(files) - len(tasks),
        seconds=time.perf_counter() - started,
        shards=ordered,
    )


def _run_tasks(tasks: list[ShardTask], workers: int,
               dask_scheduler: str | None) -> Iterator[ShardResult]:
    """Results as shards finish (any order: each shard's bytes are its own)."""
    if dask_scheduler:
        yield from _run_on_dask(tasks, dask_scheduler)
        return
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield run_shard(task)
        return
    # Imported here: multiprocessing is tens of milliseconds of a one-worker run's start.
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from bertkit.prep.pipeline import ignore_ctrl_c

    # Workers ignore Ctrl-C, as every prep pool's do: the parent stops and cleans up.
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)),
                             initializer=ignore_ctrl_c) as pool:
        pending = {pool.submit(run_shard, task) for task in tasks}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()


def _run_on_dask(tasks: list[ShardTask], address: str) -> Iterator[ShardResult]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError("--dask-scheduler needs dask and distributed: "
                         "pip install 'bertkit[dask]'") from None
    try:
        client = Client(address, timeout="30s")
    except (OSError, TimeoutError) as error:
        raise InputError(address, f"cannot reach the Dask scheduler: {error}") from None
    try:
        futures = client.map(run_shard, tasks, pure=False)
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()


def _write_manifest(output: Path, options: PretrainOptions, tokenizer: dict[str, Any],
                    inputs_json: list[dict[str, str]], done: dict[int, ShardResult],
                    count: int, complete: bool) -> dict[str, Any]:
    totals = {name: sum(result.counts.get(name, 0) for result in done.values())
              for name in COUNT_NAMES}
    totals["random_next_share"] = (round(totals["random_next"] / totals["instances"], 6)
                                   if totals["instances"] else 0.0)
    files: list[str] = []
    for index in sorted(done):
        record_path = output / done[index].file
        files += [recorded_path(record_path), recorded_path(index_path_for(record_path)),
                  recorded_path(schema_path_for(record_path))]
    manifest = {
        "bertkit_version": __version__,
        "command": "prep pretrain",
        "complete": complete,
        "inputs": inputs_json,
        "options": options.to_json(),
        "tokenizer": tokenizer,
        "counts": totals,
        "shard_layout": f"pretrain-NNNNN-of-{count:05d}.tf_record: one per input file, "
                        "in input order",
        "shards": [
            {"index": index, "input": done[index].input, "file": done[index].file,
             "sha256": done[index].sha256, "counts": done[index].counts}
            for index in sorted(done)
        ],
        "files": sorted(files + [recorded_path(output / MANIFEST_NAME)]),
    }
    write_json_atomic(output / MANIFEST_NAME, manifest)
    return manifest


def _reusable_shards(output: Path, options: PretrainOptions,
                     inputs_json: list[dict[str, str]], count: int) -> dict[int, ShardResult]:
    import json

    path = output / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(path, f"cannot resume: unreadable manifest ({error})") from None
    if manifest.get("options") != options.to_json() or \
            manifest.get("inputs") != inputs_json:
        raise UsageError(f"cannot --resume in {output}: its manifest was made from other "
                         "inputs or options; use a new output directory")
    reusable: dict[int, ShardResult] = {}
    for entry in manifest.get("shards", []):
        index = entry.get("index")
        record = output / str(entry.get("file", ""))
        if not isinstance(index, int) or entry.get("file") != shard_file_name(index, count):
            continue
        # The manifest lists the index and schema too: a shard missing either is redone.
        if record.is_file() and index_path_for(record).is_file() and \
                schema_path_for(record).is_file() and \
                sha256_of_file(record) == entry.get("sha256"):
            reusable[index] = ShardResult(index=index, input=entry["input"], file=entry["file"],
                                          sha256=entry["sha256"], counts=entry["counts"])
    return reusable

