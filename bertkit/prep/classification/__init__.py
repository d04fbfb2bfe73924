"""`bertkit prep glue|tnews`: sentence (pair) classification records, laid out exactly as
Google's run_classifier.py.

Each dataset is one module declaring how to read its files into `convert.TextExamples`
(`glue`, `tnews`); `convert.write_classification_dataset` is the pipeline both plug into.
"""
