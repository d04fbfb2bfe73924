"""Export a trained run as a directory that ``transformers`` loads with ``from_pretrained``.

Our parameter names are transformers' names, so the weights are copied, not converted. The
directory gets config.json (HF BertConfig + architectures + labels), model.safetensors,
vocab.txt and tokenizer_config.json. A CRF's transitions have no place in transformers'
``BertForTokenClassification``: they are kept in the safetensors under ``crf.*`` (HF loads
the rest and warns that those keys are unused) so that bertkit can still Viterbi-decode the
export; HF's own predictions are then per-token argmax.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from bertkit.errors import InputError
from bertkit.fsutil import atomic_path, write_json_atomic
from bertkit.train.checkpoints.hf import load_model_dir, save_model_dir, write_safetensors
from bertkit.train.options import check_output_dir

__all__ = ["ExportResult", "export_run", "find_model_dir", "guess_do_lower_case", "load_model_dir", "save_model_dir"]


@dataclasses.dataclass
class ExportResult:
    model_dir: Path
    output_dir: Path
    task: str
    num_labels: int
    use_crf: bool
    files: list[Path]
    notes: list[str]


def find_model_dir(run_dir: str | Path) -> Path:
    """RUN_DIR/model (where training saves the final model), or RUN_DIR itself if it is one."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(run_dir, "run directory not found")
    for candidate in (run_dir / "model", run_dir):
        if (candidate / "config.json").is_file() and (candidate / "model.safetensors").is_file():
            return candidate
    raise InputError(run_dir, "no trained model: expected model/config.json and model/model.safetensors")


def guess_do_lower_case(vocab_path: Path) -> bool:
    """Cased English vocabularies hold capitalised words; uncased (and Chinese) ones hardly any."""
    words = [line.strip() for line in vocab_path.read_text(encoding="utf-8").splitlines()]
    alphabetic = [word for word in words if word.isascii() and word.isalpha()]
    capitalised = sum(1 for word in alphabetic if word[0].isupper())
    return capitalised <= 0.05 * max(len(alphabetic), 1)


def export_run(run_dir: str | Path, output_dir: str | Path) -> ExportResult:
    output_dir = Path(output_dir)
    check_output_dir(output_dir)
    model_dir = find_model_dir(run_dir)
    model, config, meta = load_model_dir(model_dir)  # validates names and shapes
    output_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    notes: list[str] = []

    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    if any(name.startswith("crf.") for name in state):
        notes.append(
            "CRF transitions are stored under crf.* in model.safetensors; transformers has no "
            "CRF and ignores them (with a warning): its predictions are per-token argmax"
        )
    files.append(write_safetensors(state, output_dir / "model.safetensors", {"format": "pt"}))

    vocab = model_dir / "vocab.txt"
    do_lower_case = meta.get("do_lower_case")
    if vocab.is_file():
        with atomic_path(output_dir / "vocab.txt") as tmp:
            shutil.copyfile(vocab, tmp)
        files.append(output_dir / "vocab.txt")
        if do_lower_case is None:
            do_lower_case = guess_do_lower_case(vocab)
            notes.append(f"do_lower_case={do_lower_case} guessed from the vocabulary")
        files.append(write_json_atomic(output_dir / "tokenizer_config.json", {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": do_lower_case,
            "tokenize_chinese_chars": True,
            "model_max_length": config.max_position_embeddings,
            "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
            "cls_token": "[CLS]", "mask_token": "[MASK]",
        }))
    else:
        notes.append("the run has no vocab.txt: no tokenizer files were exported")

    hf_config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    hf_config.setdefault("bertkit", {})["do_lower_case"] = do_lower_case
    files.append(write_json_atomic(output_dir / "config.json", hf_config))  # last: marks completion
    return ExportResult(model_dir, output_dir, meta["task"], meta["num_labels"], meta["use_crf"], files, notes)
