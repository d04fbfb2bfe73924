"""`bertkit submit`: leaderboard submission files for CLUE and GLUE (bertkit.submission)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from bertkit.commands._common import JsonOption, OutputDirOption, VerboseOption, guarded, print_json
from bertkit.evaluate.benchmarks import GLUE_SUBMISSION_SLOTS

HELP = """Write leaderboard submission files from `bertkit predict` outputs, checked
against the test files they answer (line count, order and ids must match).

CLUE (--cluener / --tnews / --cmrc with their --*-test files): cluener_predict.json,
tnews11_predict.json (or tnews10_ with --tnews-version 1.0), cmrc2018_predict.json and
submit_<name>_<date>.zip. GLUE (TASK=PREDICTIONS items with --glue-dir holding the GLUE
test TSVs): CoLA.tsv ... AX.tsv (index<TAB>prediction) and submit_<name>_<date>.zip.
"""


def command(
    output: OutputDirOption,
    glue_items: Annotated[list[str] | None, typer.Argument(
        metavar="[TASK=PREDICTIONS]...",
        help="GLUE: e.g. rte=runs/rte/eval/predictions.tsv (tasks: "
             f"{', '.join(GLUE_SUBMISSION_SLOTS)}).")] = None,
    glue_dir: Annotated[Path | None, typer.Option(
        "--glue-dir", help="GLUE data folder (CoLA/test.tsv, MNLI/test_matched.tsv, "
                           "diagnostic/diagnostic.tsv ...).")] = None,
    cluener: Annotated[Path | None, typer.Option(
        "--cluener", help="CLUENER predictions (JSON lines from bertkit predict).")] = None,
    cluener_test: Annotated[Path | None, typer.Option(
        "--cluener-test", help="The CLUENER test file they answer.")] = None,
    tnews: Annotated[Path | None, typer.Option(
        "--tnews", help="TNEWS predictions (predictions.tsv from bertkit predict).")] = None,
    tnews_test: Annotated[Path | None, typer.Option(
        "--tnews-test", help="The TNEWS test file they answer.")] = None,
    tnews_version: Annotated[str, typer.Option(
        "--tnews-version", help="CLUE 1.1 (tnews11_predict.json) or 1.0.")] = "1.1",
    cmrc: Annotated[Path | None, typer.Option(
        "--cmrc", help="CMRC 2018 predictions.json from bertkit predict.")] = None,
    cmrc_test: Annotated[Path | None, typer.Option(
        "--cmrc-test", help="The CMRC 2018 test file they answer.")] = None,
    name: Annotated[str, typer.Option("--name", help="Team name in the zip's name.")] = "bertkit",
    day: Annotated[str | None, typer.Option(
        "--date", help="Date in the zip's name (default: today, YYYYMMDD).")] = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    def run() -> None:
        from bertkit.errors import UsageError
        from bertkit.submission import (
            GLUE_FILES,
            cluener_submission,
            cmrc_submission,
            glue_submission,
            tnews_submission,
            write_submission,
        )

        pairs = [("--cluener", cluener, cluener_test), ("--tnews", tnews, tnews_test),
                 ("--cmrc", cmrc, cmrc_test)]
        for flag, predictions, test in pairs:
            if (predictions is None) != (test is None):
                raise UsageError(f"{flag} and {flag}-test go together")
        glue = []
        for item in glue_items or []:
            task, _, path = item.partition("=")
            task = task.strip().lower()
            if not path or task not in GLUE_FILES:
                raise UsageError(f"expected TASK=PREDICTIONS with a GLUE task "
                                 f"({', '.join(GLUE_FILES)}), got {item!r}")
            glue.append((task, Path(path)))
        clue = any(predictions for _, predictions, _ in pairs)
        if clue == bool(glue):
            raise UsageError("give CLUE files (--cluener/--tnews/--cmrc) or GLUE "
                             "TASK=PREDICTIONS items, one benchmark per zip")
        if glue and glue_dir is None:
            raise UsageError("GLUE items need --glue-dir (the folder with the test TSVs)")
        files = []
        if cluener and cluener_test:
            files.append(cluener_submission(cluener, cluener_test))
        if tnews and tnews_test:
            files.append(tnews_submission(tnews, tnews_test, tnews_version))
        if cmrc and cmrc_test:
            files.append(cmrc_submission(cmrc, cmrc_test))
        for task, predictions in glue:
            files.append(glue_submission(task, predictions, glue_dir / GLUE_FILES[task][1]))
        stamp = day or date.today().strftime("%Y%m%d")
        written = write_submission(files, output, f"submit_{name}_{stamp}.zip")
        if json_output:
            print_json({"files": [str(path) for path in written],
                        "lines": {item.name: item.lines for item in files}})
            return
        from bertkit.console import info

        for item, path in zip(files, written):
            info(f"wrote {path} ({item.lines} lines)")
        info(f"wrote {written[-1]}")

    guarded(verbose, run)


command.__doc__ = HELP
