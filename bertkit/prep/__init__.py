"""Converters from raw public datasets to TFRecord files plus their sidecars.

One subpackage per family, each dataset one module in it:
- `squad/`: SQuAD v1.1/v2.0, CMRC 2018, DRCD (entry `squad.convert.prep_squad`);
- `classification/`: GLUE (`glue`) and CLUE TNEWS (`tnews`), over `classification.convert`;
- `ner/`: CLUENER2020 (`cluener`) and ChineseNER (`chinesener`), over `ner.convert`;
- `pretrain/`: masked-LM + NSP pretraining data (its own sharded pipeline).

What they share: `pipeline` (the typed tokenizer and its per-process cache, the ordered
parallel map, --workers), `staging` (the locked, staged commit, manifest last),
`outputs` (manifest, summary tables, split names), `input_text` (reading text inputs
with one-line errors), `result` (what every converter returns). CONTRIBUTING.md shows how
to add a converter.
"""
