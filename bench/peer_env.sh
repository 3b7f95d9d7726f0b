#!/usr/bin/env bash
# Creates (idempotently) the peer virtualenv used by the benchmarks to run
# tensorflow-model-optimization 0.8.1 on tf_keras, apart from keras_mot's own environment
# (importing tfmot sets TF_USE_LEGACY_KERAS=1 for its whole process).
#
# Usage: bash bench/peer_env.sh        -> prints the peer venv's python path on the last line
# Env:   KERAS_MOT_PEER_VENV  venv location (default: $HOME/.cache/keras_mot/peer-venv)
#        PYTHON               interpreter used to create the venv (default: python3)
set -euo pipefail

VENV="${KERAS_MOT_PEER_VENV:-$HOME/.cache/keras_mot/peer-venv}"
PY="${PYTHON:-python3}"
REQS=(
  "tensorflow==2.21.*"
  "tf_keras==2.21.*"
  "tensorflow-model-optimization==0.8.1"
  "ai-edge-litert"
  "numpy"
)
STAMP="$VENV/.keras_mot_peer_ok"
WANT="$(printf '%s\n' "${REQS[@]}")"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV/bin/python" ]]; then
  echo "$VENV/bin/python"
  exit 0
fi

mkdir -p "$(dirname "$VENV")"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PY" -m venv "$VENV" >&2
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
"$VENV/bin/python" -m pip install --quiet "${REQS[@]}" >&2
# Smoke check: the peer stack imports with legacy Keras, as the benchmarks run it.
TF_USE_LEGACY_KERAS=1 "$VENV/bin/python" -c \
  "import tensorflow_model_optimization as tfmot, tf_keras, tensorflow as tf; print('peer ok', tf.__version__, tf_keras.__version__)" >&2
printf '%s' "$WANT" > "$STAMP"
echo "$VENV/bin/python"
