#!/usr/bin/env bash
# One entry point for a fresh machine. Creates ./.venv, installs the package
# and its test tools into it (reused on later runs), then:
#
#   ./run.sh              train PTB `small` (the main job) and compare with
#                         the published table; extra args go to ptb_word_lm.py
#   ./run.sh test         the whole test suite (pytest); extra args to pytest
#   ./run.sh bench        the benchmark commands (JSON on stdout)
#
# Data: $DATA_DIR/ptb (default ./data/ptb); downloaded and checksum-verified
# if missing and a network is there, else a one-line message says where the
# files go. Tests read $DATA_DIR (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PYTHON=${PYTHON:-python3}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  # Reinstall only when setup.py changes.
  local stamp
  stamp="$VENV/.installed-$(sha256sum setup.py | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      --editable ".[test]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

main_job() {
  local data_root=${DATA_DIR:-./data}
  exec "$VENV/bin/python" ptb/ptb_word_lm.py --model=small \
    --data_path="$data_root/ptb" --download \
    --save_path="${SAVE_PATH:-runs/ptb_small}" "$@"
}

run_tests() {
  if [ -z "${DATA_DIR:-}" ] && [ -d ../shared/data ]; then
    DATA_DIR="$(cd ../shared/data && pwd)"
    export DATA_DIR
  fi
  exec "$VENV/bin/python" -m pytest -q "$@"
}

run_bench() {
  local data_root=${DATA_DIR:-./data}
  "$VENV/bin/python" -m ptb.bench --model=small
  "$VENV/bin/python" -m mnist_rnn.bench --model=stacked --config=small
  "$VENV/bin/python" -m mnist_rnn.bench --model=bidirectional --config=small
  "$VENV/bin/python" -m imdb.bench --config=seed000 \
    --data_path="$data_root/imdb"
}

setup
case "${1:-}" in
  test) shift; run_tests "$@" ;;
  bench) shift; run_bench "$@" ;;
  *) main_job "$@" ;;
esac
