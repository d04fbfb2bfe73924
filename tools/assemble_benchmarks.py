"""Rebuild BENCHMARKS.md from its summary and the per-area results under bench/results/.

Each benchmark writes its own figures file; this keeps one document for readers without
anyone hand-copying numbers between the two.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["tokenizer", "codec", "prep_squad", "prep_ner_cls", "prep_glue", "eval", "model",
         "train", "quality"]


def main() -> None:
    summary = (ROOT / "bench" / "SUMMARY.md").read_text(encoding="utf-8").rstrip() + "\n"
    parts = [summary]
    results = ROOT / "bench" / "results"
    names = ORDER + sorted(p.stem for p in results.glob("*.md") if p.stem not in ORDER)
    for name in names:
        path = results / f"{name}.md"
        if not path.is_file():
            continue
        body = path.read_text(encoding="utf-8").rstrip()
        # Each results file starts with its own "# " title; nest it under this document.
        body = "\n".join(("#" + line) if line.startswith("#") else line
                         for line in body.splitlines())
        parts.append(f"\n---\n\n<!-- from bench/results/{name}.md -->\n{body}\n")
    (ROOT / "BENCHMARKS.md").write_text("".join(parts), encoding="utf-8")


if __name__ == "__main__":
    main()
