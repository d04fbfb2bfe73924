"""The one runner behind every `bertkit prep CONVERTER` command.

How to plug a converter in (the whole command module is a few lines; CONTRIBUTING.md
walks through a real one)::

    from bertkit.commands._prep_runner import PrepContext, prep_command

    @prep_command("mydata", summary="Convert MyData JSON lines into NER records.",
                  help=HELP)
    def command(prep: PrepContext, inputs: InputsArgument,
                strict: Annotated[bool, typer.Option("--strict", help="...")] = False
                ) -> PrepResult:
        from bertkit.prep.ner.mydata import convert_mydata  # heavy imports stay inside
        return convert_mydata(inputs, prep.output, vocab=prep.vocab, ...,
                              split=prep.split, workers=prep.workers,
                              show_progress=prep.progress)

then add the module's ``command`` to `PREP_COMMANDS` in `bertkit/commands/prep_registry.py`
(the order there is the order of `bertkit prep --help`).

- The first parameter receives the options every converter shares (`PrepContext`):
  ``-o/--output OUTPUT_DIR``, ``--vocab``, ``--spm-model``, ``--do-lower-case``,
  ``--max-seq-length``, ``--split``, ``--workers``, ``--json``, ``--verbose``. A converter
  that takes its own version of one (SQuAD's ``--split train|eval``, its 384 default
  length) leaves it out with ``shared=`` and declares it itself.
- The runner checks the shared ``--max-seq-length`` against BERT's 512 positions (SQuAD
  and pretrain, which declare their own, apply the same `check_bert_positions`) and -o
  (exit 2 if it is a file, under a file or a dangling link) before any work, turns every
  error into one line (exit 1; 2 for option errors; 130 for Ctrl-C), prints the manifest
  for ``--json``, else the converter's summary followed by the list of files written,
  and the converter's preview with ``--verbose`` (the result's `print_summary` and
  `print_preview`: `bertkit.prep.result.PrepResult`). ``--workers`` goes to the
  library as given; the library resolves 0 (every core).
- The library side of a converter writes through `bertkit.prep.staging.staged_output`
  (lock on -o, staging folder, no output over an input, journalled commit with the
  manifest last, cleanup on failure), validates ``--split`` against its split names
  (`bertkit.prep.outputs.check_split_option`) and records every path, inputs and output
  files alike, with `recorded_path` / `describe_input`.
- One -o holds one output set. A second run into the same -o (another split, other
  options) replaces the previous set whole: the previous manifest's files that the new
  run does not write are removed in the same commit, so no file stays beside a manifest
  that does not list it. Convert several splits in one run (most converters take several
  inputs or a directory), or give each run its own -o. A commit killed half way (SIGKILL)
  is finished by the next run into that -o, before it does anything else.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

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
from bertkit.prep.result import PrepResult

# Shared option name -> (annotation, default); `inspect.Parameter.empty` means required.
SHARED_OPTIONS: dict[str, tuple[Any, Any]] = {
    "output": (OutputDirOption, inspect.Parameter.empty),
    "vocab": (VocabOption, None),
    "spm_model": (SpmModelOption, None),
    "do_lower_case": (DoLowerCaseOption, True),
    "max_seq_length": (MaxSeqLengthOption, 128),
    "split": (SplitNameOption, None),
    "workers": (WorkersOption, 0),
    "json_output": (JsonOption, False),
    "verbose": (VerboseOption, False),
}
ALL_SHARED = tuple(SHARED_OPTIONS)


def all_shared_but(*names: str) -> tuple[str, ...]:
    """Every shared option but ``names``: those a converter declares itself, or has no use for."""
    return tuple(name for name in ALL_SHARED if name not in names)


InputsArgument = Annotated[list[Path], typer.Argument(
    metavar="INPUT...", help="Input files, or a directory holding the dataset's split files.")]


@dataclass(frozen=True)
class PrepContext:
    """The shared options as given on the command line (None where a converter left one out)."""

    output: Path
    vocab: Path | None = None
    spm_model: Path | None = None
    do_lower_case: bool = True
    max_seq_length: int | None = None
    split: str | None = None
    workers: int = 0
    json_output: bool = False
    verbose: bool = False

    @property
    def progress(self) -> bool:
        """Show progress bars (never with --json, never when stderr is not a terminal)."""
        from bertkit.console import progress_enabled

        return progress_enabled(self.json_output)


@dataclass(frozen=True)
class PrepOutcome:
    """A `PrepResult` made of a manifest and callables, for a converter whose library
    result does not print itself (prep pretrain)."""

    manifest: dict[str, Any]
    summary: Callable[[], None]  # the tables for people, on stderr
    preview: Callable[[], None] | None = None  # --verbose: the first records, decoded

    def print_summary(self) -> None:
        self.summary()

    def print_preview(self) -> None:
        if self.preview is not None:
            self.preview()


@dataclass(frozen=True)
class PrepCommand:
    """A registered converter command: `cli.py` mounts ``callback`` as `prep NAME`."""

    name: str
    summary: str  # one line, for the `bertkit prep --help` listing
    help: str
    callback: Callable[..., None]

    def register(self, app: typer.Typer) -> None:
        app.command(self.name, help=self.help, short_help=self.summary)(self.callback)


def prep_command(
    name: str, *, summary: str, help: str, shared: Sequence[str] = ALL_SHARED
) -> Callable[[Callable[..., PrepResult]], PrepCommand]:
    """Make a `prep NAME` command from ``convert(prep: PrepContext, **own options)``.

    ``convert``'s own parameters (after the first) become the command's arguments and
    options, followed by the ``shared`` ones.
    """
    unknown = set(shared) - set(SHARED_OPTIONS)
    if unknown or not shared or shared[0] != "output":
        raise ValueError(f"shared options must start with output and come from "
                         f"{list(SHARED_OPTIONS)}; got {list(shared)}")

    def decorate(convert: Callable[..., PrepResult]) -> PrepCommand:
        own = list(inspect.signature(convert, eval_str=True).parameters.values())[1:]
        clash = {parameter.name for parameter in own} & set(shared)
        if clash:
            raise ValueError(f"{name}: {sorted(clash)} are shared options; leave them out "
                             "of shared= to declare your own")
        shared_parameters = [
            inspect.Parameter(option, inspect.Parameter.KEYWORD_ONLY,
                              annotation=SHARED_OPTIONS[option][0],
                              default=SHARED_OPTIONS[option][1])
            for option in shared
        ]
        # Typer reads the signature: the converter's arguments, -o, its own options, then
        # the other shared ones (every prep --help reads in that order).
        own = [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY) for parameter in own]
        arguments = [parameter for parameter in own if _is_argument(parameter)]
        options = [parameter for parameter in own if not _is_argument(parameter)]
        output, *other_shared = shared_parameters

        def callback(**values: Any) -> None:
            context = PrepContext(**{option: values.pop(option) for option in shared})
            run_prep(context, lambda: convert(context, **values))

        ordered = [*arguments, output, *options, *other_shared]
        callback.__signature__ = inspect.Signature(ordered)  # type: ignore[attr-defined]
        callback.__annotations__ = {parameter.name: parameter.annotation for parameter in ordered}
        callback.__name__ = f"prep_{name}"
        callback.__doc__ = help
        return PrepCommand(name=name, summary=summary, help=_reflow(help), callback=callback)

    return decorate


def _is_argument(parameter: inspect.Parameter) -> bool:
    return any(isinstance(extra, typer.models.ArgumentInfo)
               for extra in getattr(parameter.annotation, "__metadata__", ()))


def _reflow(text: str) -> str:
    """One line per paragraph: the help renderer keeps single line breaks, which would
    break every line of a paragraph twice on a narrow terminal."""
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in text.strip().split("\n\n"))


def run_prep(context: PrepContext, convert: Callable[[], PrepResult]) -> None:
    """Check -o, convert, then print the manifest (--json) or the summary and file list."""

    def run() -> None:
        from bertkit.prep.outputs import check_bert_positions, print_files_written
        from bertkit.prep.staging import check_output_dir

        if context.max_seq_length is not None:
            check_bert_positions(context.max_seq_length)
        check_output_dir(context.output)
        result = convert()
        if context.verbose:
            result.print_preview()
        if context.json_output:
            print_json(result.manifest)  # every file and count, for machines
            return
        result.print_summary()
        print_files_written(result.manifest)

    guarded(context.verbose, run)
