"""`bertkit prep squad`: SQuAD v1.1/v2.0 (and CMRC 2018 / DRCD) JSON -> Google's run_squad.py
features.

Entry: `convert.prep_squad`. The steps, one module each: `reader` (JSON -> paragraphs and
questions), `chinese` (character doc tokens for Chinese contexts), `windows` (Google's doc
spans and answer-span rules), `tokenize` (every distinct text, over worker processes),
`encode` (pieces -> feature rows), `records` (Google's output order and record columns),
`sidecar` (the eval sidecar `predict` reads: built and parsed here), `summary` (the
tables for people).
"""
