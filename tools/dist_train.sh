#!/usr/bin/env bash
# Distributed training through torchrun: tools/dist_train.sh CONFIG GPUS [train.py options]
# On a machine without CUDA the processes use the gloo backend on CPU.
set -euo pipefail
CONFIG=$1
GPUS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
# A scheduler's SIGTERM (or Ctrl-C) reaches every process of the job: the
# ranks save the iteration and exit with the signal's code; so does this
# script, whatever torchrun's own exit code.
stopped_by=
trap 'stopped_by=143' TERM
trap 'stopped_by=130' INT
rc=0
"${PYTHON:-python}" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
  --nproc_per_node="$GPUS" --master_port="$PORT" \
  "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "$@" || rc=$?
exit "${stopped_by:-$rc}"
