"""Pretraining data (masked LM + next sentence), identical to Google's script, at corpus scale.

Entry point: `create_pretraining_data(inputs, output_dir, PretrainOptions(...), workers=,
dask_scheduler=, resume=)` in `pipeline.py`. Module map:
- `pipeline.py`: options check, input shards, local/Dask scheduling, resume, manifest;
- `shard.py`: one input file -> one record file (the unit of work), per-shard seeds;
- `corpus.py`: reading text into documents (blank lines, WikiExtractor, sentence split);
- `wwm.py`: token ids with whole-word continuation marks (wordpiece, jieba, ref files);
- `instances.py`: Google's instance algorithm, random call for random call;
- `records.py`: spilling instances to disk and writing the seven features;
- `view.py`: a pretraining record as tokens with its masked positions marked.
"""

from bertkit.prep.pretrain.pipeline import PretrainResult, create_pretraining_data
from bertkit.prep.pretrain.shard import PretrainOptions, shard_file_name, shard_seed

__all__ = ["PretrainOptions", "PretrainResult", "create_pretraining_data", "shard_file_name",
           "shard_seed"]
