#!/bin/bash
# usage: tools/identity_run.sh TREE OUT: prep SQuAD dev, CLUENER dev and MRPC with real vocabs, then
# train 20 steps, predict and score each task from the tiny BERT, all with the code in TREE.
# Run it on two trees (e.g. a `git worktree` of an older commit) and compare OUT by sha256:
# the issue-16 check that a restructuring left records, predictions, weights and scores alone.
set -e
TREE=$1; OUT=$2; rm -rf $OUT; mkdir -p $OUT
D=/work/shared/data; PY="/work/main/.venv/bin/python -m bertkit"
export PYTHONPATH=$TREE OMP_NUM_THREADS=1
EN=$D/vocab/bert-base-uncased/vocab.txt; ZH=$D/vocab/bert-base-chinese/vocab.txt; TINY=$TREE/tests/fixtures/tiny_bert
$PY prep squad $D/squad_v1.1/dev-v1.1.json --vocab $EN --split eval -o $OUT/squad-dev > /dev/null
$PY prep cluener $D/cluener2020/dev.json --vocab $ZH -o $OUT/cluener-dev > /dev/null
$PY prep glue MRPC $D/glue/MRPC/train.tsv $D/glue/MRPC/dev.tsv --vocab $EN -o $OUT/mrpc > /dev/null
$PY prep squad $TREE/bertkit/data/squad_sample/demo-train.json --vocab $TINY/vocab.txt --split train --max-seq-length 256 -o $OUT/sq-train > /dev/null
$PY prep squad $D/squad_v1.1/dev-v1.1.json --vocab $TINY/vocab.txt --split eval --max-seq-length 256 -o $OUT/sq-dev-tiny
$PY prep glue MRPC $D/glue/MRPC/train.tsv $D/glue/MRPC/dev.tsv --vocab $TINY/vocab.txt -o $OUT/mrpc-tiny > /dev/null
$PY prep cluener $D/cluener2020/dev.json --vocab $TINY/vocab.txt -o $OUT/cluener-tiny > /dev/null > /dev/null
$PY train --task squad --train-file $OUT/sq-train --init-checkpoint $TINY --max-steps 20 --batch-size 8 --seed 7 -o $OUT/run-squad > /dev/null
$PY predict $OUT/run-squad --eval-file $OUT/sq-dev-tiny -o $OUT/pred-squad > /dev/null
$PY train --task classification --train-file $OUT/mrpc-tiny --init-checkpoint $TINY --max-steps 20 --batch-size 8 --seed 7 -o $OUT/run-mrpc > /dev/null
$PY predict $OUT/run-mrpc --eval-file $OUT/mrpc-tiny -o $OUT/pred-mrpc > /dev/null
$PY train --task ner --train-file $OUT/cluener-tiny/dev.tf_record --init-checkpoint $TINY --max-steps 20 --batch-size 8 --seed 7 -o $OUT/run-ner > /dev/null
$PY predict $OUT/run-ner --eval-file $OUT/cluener-tiny -o $OUT/pred-ner > /dev/null
for t in squad mrpc ner; do $PY eval $OUT/pred-$t/predictions.* --json > $OUT/eval-$t.json || echo "eval $t rc=$?"; done
