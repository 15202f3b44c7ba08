#!/usr/bin/env bash
# One entry point for a fresh machine. Creates ./.venv, installs the package
# and its test tools into it (reused on later runs), then:
#
#   ./run.sh              train PTB `small` (the main job), then the run's
#                         report (python -m common.report: the published
#                         table, report.png); extra args go to ptb_word_lm.py
#   ./run.sh test         the whole test suite (pytest, 2 workers); extra args
#                         to pytest
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
    # The report extra (matplotlib, for report.png) is optional: without it
    # the reports are text only.
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --editable ".[test,report]"; then
      echo "note: the report extra (matplotlib) did not install; reports" \
        "come without report.png" >&2
      "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --editable ".[test]"
    fi
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

# The run directory ptb_word_lm.py writes: the last --save_path in the
# arguments (absl: the last one wins), else $1.
run_dir() {
  local dir=$1
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --save_path=*) dir=${1#--save_path=} ;;
      --save_path) if [ $# -gt 1 ]; then dir=$2; shift; fi ;;
    esac
    shift
  done
  echo "$dir"
}

# Trains, then prints the report of the run (common/report.py: the table
# against the published numbers, report.png beside metrics.json); exits with
# the training's status, whatever the report's.
main_job() {
  local data_root=${DATA_DIR:-./data}
  local default_run=${SAVE_PATH:-runs/ptb_small}
  local status=0 run
  "$VENV/bin/python" ptb/ptb_word_lm.py --model=small \
    --data_path="$data_root/ptb" --download \
    --save_path="$default_run" "$@" || status=$?
  run=$(run_dir "$default_run" "$@")
  if [ -f "$run/metrics.json" ]; then
    "$VENV/bin/python" -m common.report "$run" || true
  fi
  exit "$status"
}

run_tests() {
  if [ -z "${DATA_DIR:-}" ] && [ -d ../shared/data ]; then
    DATA_DIR="$(cd ../shared/data && pwd)"
    export DATA_DIR
  fi
  # Two workers (pytest-xdist): 440 tests in 760 s here with a training
  # run sharing the 2 cores, against 963 s one at a time. `-n 0` to serialise.
  exec "$VENV/bin/python" -m pytest -q -n 2 "$@"
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
