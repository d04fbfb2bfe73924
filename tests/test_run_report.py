"""The run directory's learning_curve.png and report.md (bertkit.train.run_report)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from bertkit.errors import InputError
from bertkit.train.run_report import (
    CURVE_NAME,
    REPORT_NAME,
    headline_metric,
    moving_average,
    read_step_log,
    write_run_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LOSS_BLUE = (0x1F, 0x77, 0xB4)  # matplotlib's tab:blue, the loss line
METRIC_RED = (0xD6, 0x27, 0x28)  # tab:red, the eval point


def write_log(run_dir: Path, steps: int = 40) -> list[dict[str, float]]:
    """A plausible decaying loss, with step times that differ so the figures are checkable."""
    run_dir.mkdir(parents=True, exist_ok=True)
    records = [{"step": step, "loss": 2.0 * math.exp(-step / 15) + 0.1, "lr": 3e-5 * step / steps,
                "step_time": 0.5 if step == 1 else 0.25, "seq_per_s": 32 / (0.5 if step == 1
                                                                             else 0.25)}
               for step in range(1, steps + 1)]
    (run_dir / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return records


TRAIN_RESULTS = {"global_step": 40, "total_steps": 40, "global_batch": 32, "world_size": 1,
                 "final_loss": 0.2380, "mean_loss": 0.9, "train_runtime": 754.25,
                 "mean_step_time": 0.256, "seq_per_s": 125.0}
RESOLVED = {"task": "classification", "train_file": "/nowhere/train.tf_record",
            "init_checkpoint": "/models/minilm", "epochs": 3.0, "max_steps": None, "lr": 2e-5,
            "batch_size": 32, "grad_accum": 1, "global_batch": 32, "warmup_proportion": 0.1,
            "weight_decay": 0.01, "max_grad_norm": 1.0, "precision": "fp32", "seed": 42,
            "seq_length": 128, "total_steps": 40, "warmup_steps": 4,
            "bert_config": {"num_hidden_layers": 6, "hidden_size": 384}}


def pixels(path: Path) -> tuple[tuple[int, int], list[tuple[int, ...]]]:
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        flat = rgb.tobytes()
        return rgb.size, [tuple(flat[i:i + 3]) for i in range(0, len(flat), 3)]


def count_near(colours: list[tuple[int, ...]], target: tuple[int, int, int], slack: int = 12
               ) -> int:
    return sum(all(abs(c - t) <= slack for c, t in zip(colour, target)) for colour in colours)


def test_curve_is_a_png_with_the_loss_line_and_the_metric(tmp_path: Path) -> None:
    import matplotlib  # noqa: F401  (a dependency of bertkit: no skip when it is missing)
    write_log(tmp_path)
    eval_results = {"task": "glue-mrpc", "accuracy": 0.83, "f1": 0.88, "examples": 408}
    written = write_run_report(tmp_path, train_results=TRAIN_RESULTS, resolved_config=RESOLVED,
                               eval_results=eval_results)
    curve = tmp_path / CURVE_NAME
    assert written == [curve, tmp_path / REPORT_NAME]
    assert curve.read_bytes()[:8] == PNG_SIGNATURE
    size, colours = pixels(curve)
    assert size == (700, 400)
    # Not blank: a real line in the loss colour, and the metric's marker in its colour.
    assert count_near(colours, LOSS_BLUE) > 200
    assert count_near(colours, METRIC_RED) > 20
    assert len(set(colours)) > 50
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temporary file


def test_curve_without_eval_has_no_metric_marker(tmp_path: Path) -> None:
    import matplotlib  # noqa: F401  (a dependency of bertkit: no skip when it is missing)
    write_log(tmp_path)
    write_run_report(tmp_path, train_results=TRAIN_RESULTS, resolved_config=RESOLVED,
                     eval_results=None)
    _, colours = pixels(tmp_path / CURVE_NAME)
    assert count_near(colours, LOSS_BLUE) > 200
    assert count_near(colours, METRIC_RED) == 0
    assert "eval | not run" in (tmp_path / REPORT_NAME).read_text()


def test_report_holds_the_figures(tmp_path: Path) -> None:
    records = write_log(tmp_path)
    eval_results = {"task": "squad", "exact_match": 61.25, "f1": 72.5, "total": 10570,
                    "missing_ids": [], "warnings": []}
    write_run_report(tmp_path, train_results=TRAIN_RESULTS, resolved_config=RESOLVED,
                     eval_results=eval_results)
    report = (tmp_path / REPORT_NAME).read_text()
    assert "`/nowhere/train.tf_record`" in report
    assert "`/models/minilm`" in report
    assert "num_hidden_layers 6, hidden_size 384" in report
    for row in ("| lr | 2e-05 |", "| batch_size | 32 |", "| epochs | 3 |", "| seed | 42 |",
                "| warmup_steps | 4 |", "| max_grad_norm | 1 |", "| seq_length | 128 |"):
        assert row in report
    assert f"| final training loss | {records[-1]['loss']:.4f} |" in report
    assert "| eval exact_match | 61.25 |" in report
    assert "| eval f1 | 72.5 |" in report
    assert "missing_ids" not in report and "warnings" not in report
    # Steps 2+ all take 250 ms (128 seq/s); step 1's warm-up is left out of the steady state.
    assert "| mean step time | 250.0 ms (steps 2+, median 250.0 ms) |" in report
    assert "| throughput | 128.0 sequences/s" in report
    assert "| throughput, whole run | 125.0 sequences/s |" in report
    assert "| wall time (training loop) | 12 min 34.2 s |" in report


def test_without_matplotlib_the_png_is_skipped_with_a_note(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    write_log(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    notes: list[str] = []
    written = write_run_report(tmp_path, train_results=TRAIN_RESULTS, resolved_config=RESOLVED,
                               eval_results={"accuracy": 0.5}, notes=notes)
    assert written == [tmp_path / REPORT_NAME]
    assert not (tmp_path / CURVE_NAME).exists()
    assert len(notes) == 1 and "pip install matplotlib" in notes[0]
    assert notes[0] in (tmp_path / REPORT_NAME).read_text()


def test_damaged_log_line_is_named(tmp_path: Path) -> None:
    write_log(tmp_path, steps=3)
    with (tmp_path / "log.jsonl").open("a") as handle:
        handle.write('{"step": 4, "loss": 0.5}\n')
    with pytest.raises(InputError) as caught:
        read_step_log(tmp_path / "log.jsonl")
    assert caught.value.position == 4
    with pytest.raises(InputError):
        read_step_log(tmp_path / "absent.jsonl")


def test_moving_average() -> None:
    assert moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert moving_average([2.0], 5) == [2.0]


def test_headline_metric_prefers_f1_and_ignores_bookkeeping() -> None:
    assert headline_metric({"accuracy": 0.8, "f1": 0.9}) == ("f1", 0.9)
    assert headline_metric({"exact_match": 60.0, "total": 5}) == ("exact_match", 60.0)
    assert headline_metric({"task": "x", "missing_count": 3}) is None
    assert headline_metric(None) is None


@pytest.mark.usefixtures("one_torch_thread")
def test_real_run_on_mrpc(tmp_path: Path, shared_data: Path, uncased_vocab: Path) -> None:
    """prep glue on real MRPC dev -> 3 steps of a tiny BERT -> --do-eval -> the report."""
    from train_support import tiny_config

    from bertkit.prep.classification.glue import convert_glue
    from bertkit.train.trainer import TrainOptions, train

    prep_dir = tmp_path / "mrpc"
    convert_glue("MRPC", [shared_data / "glue" / "MRPC" / "dev.tsv"], prep_dir,
                 vocab=uncased_vocab, max_seq_length=64)
    train_file = prep_dir / "dev.tf_record"
    config = tiny_config(tmp_path / "net", vocab_size=30522, max_position_embeddings=64)
    run_dir = tmp_path / "run"
    result = train(TrainOptions(task="classification", train_file=train_file,
                                output_dir=run_dir, config_file=config, max_steps=3,
                                batch_size=8, device="cpu", eval_file=prep_dir, do_eval=True,
                                quiet=True))
    resolved = json.loads((run_dir / "run_config.json").read_text())
    assert result.eval_results is not None
    write_run_report(run_dir, train_results=result.to_json(), resolved_config=resolved,
                     eval_results=result.eval_results)
    report = (run_dir / REPORT_NAME).read_text()
    assert f"`{train_file.resolve()}`" in report
    assert "| records | 408 |" in report  # MRPC dev has 408 pairs
    assert "| source examples | 408 |" in report
    assert "`bertkit prep glue MRPC`" in report
    assert "none (random initialisation)" in report
    shown = next(line for line in report.splitlines() if line.startswith("| eval accuracy |"))
    assert float(shown.split("|")[2]) == pytest.approx(result.eval_results["accuracy"], abs=1e-4)
    assert "| steps | 3 |" in report
    if "matplotlib" in sys.modules or _has_matplotlib():
        assert (run_dir / CURVE_NAME).read_bytes()[:8] == PNG_SIGNATURE


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
