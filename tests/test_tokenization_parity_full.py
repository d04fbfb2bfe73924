"""Full-data parity with Google's FullTokenizer: every text of every corpus, both vocabs, both casings.

Marked `oracle` (a few minutes: Google's tokenizer is the slow side; CI runs it). The always-on slices are in
test_tokenization.py.
"""

from __future__ import annotations

import pytest
import tokenization_corpora as corpora
from conftest import CHINESE_VOCAB, UNCASED_VOCAB
from google_oracle import google_tokenization

from bertkit.tokenization import load_tokenizer

pytestmark = pytest.mark.oracle

CORPORA = {
    "squad-dev": corpora.squad_texts,
    "cluener": corpora.cluener_texts,
    "tnews": corpora.tnews_texts,
    "glue-mrpc-rte": corpora.glue_sentences,
    "edge-cases": corpora.edge_cases,
}
VOCABS = {"uncased": UNCASED_VOCAB, "chinese": CHINESE_VOCAB}


@pytest.mark.parametrize("lower", [True, False], ids=["lower", "cased"])
@pytest.mark.parametrize("vocab_name", list(VOCABS))
@pytest.mark.parametrize("corpus", list(CORPORA))
def test_corpus_matches_google(shared_data, corpus, vocab_name, lower):
    texts = CORPORA[corpus]()
    ours = load_tokenizer(vocab=VOCABS[vocab_name], do_lower_case=lower)
    google = google_tokenization().FullTokenizer(str(VOCABS[vocab_name]), lower)
    got = ours.tokenize_many(texts)
    differing = [i for i, text in enumerate(texts) if got[i] != google.tokenize(text)]
    assert not differing, f"{len(differing)} of {len(texts)} differ; first: {texts[differing[0]]!r}"


@pytest.mark.parametrize("lower", [True, False], ids=["lower", "cased"])
def test_every_squad_doc_token_matches_google(shared_data, lower):
    contexts = corpora.squad_texts()
    doc_tokens = corpora.squad_doc_tokens(contexts)
    ours = load_tokenizer(vocab=UNCASED_VOCAB, do_lower_case=lower)
    google = google_tokenization().FullTokenizer(str(UNCASED_VOCAB), lower)
    got = ours.tokenize_many(doc_tokens)
    differing = [i for i, token in enumerate(doc_tokens) if got[i] != google.tokenize(token)]
    assert not differing, f"{len(differing)} of {len(doc_tokens)} differ"
