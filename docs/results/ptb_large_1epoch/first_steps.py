"""The first training chunks of PTB large, one line per chunk.

Usage (from the project root; data in $DATA_DIR/ptb, default ../shared/data):

    python docs/results/ptb_large_1epoch/first_steps.py KEEP_PROB LR STEPS \
        [SEED [by_variable]]

Each line: (step, the chunk's training perplexity, the global gradient norm
before clipping, the Valid graph's perplexity on the first valid chunk after
the step), and with ``by_variable`` each variable's gradient norm after it.
The port's own graphs (``ptb.model.build_models``), seed 1234 unless given.
"""
import dataclasses
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, ROOT)

import numpy as np  # pylint: disable=wrong-import-position

from common.tf_compat import tf, tf1  # pylint: disable=wrong-import-position
from ptb import configs, model as model_lib, reader  # pylint: disable=wrong-import-position


def main(argv):
  try:
    keep, lr, steps = float(argv[1]), float(argv[2]), int(argv[3])
    seed = int(argv[4]) if len(argv) > 4 else 1234
    by_variable = argv[5:] == ["by_variable"]
    if argv[5:] and not by_variable:
      raise ValueError(argv[5])
  except (IndexError, ValueError):
    sys.exit("usage: first_steps.py KEEP_PROB LR STEPS [SEED [by_variable]]"
             " (e.g. 0.35 1.0 16)")
  cfg = dataclasses.replace(configs.CONFIGS.get("large"), keep_prob=keep,
                            learning_rate=lr)
  data_dir = os.environ.get("DATA_DIR",
                            os.path.join(os.path.dirname(ROOT), "shared/data"))
  train, valid, _, _ = reader.ptb_raw_data(os.path.join(data_dir, "ptb"))
  graph = tf.Graph()
  with graph.as_default():
    tf1.set_random_seed(seed)
    models = model_lib.build_models(cfg, configs.eval_config(cfg),
                                    dropout_seed=seed)
    t = models.train
    weights = tf1.trainable_variables()
    grads = tf.gradients(t.cost, weights)
    # The norm the train op's clip_by_global_norm sees (of the embedding's
    # IndexedSlices values, a repeated word's rows not summed) ...
    norm = tf.linalg.global_norm(grads)
    # ... and each variable's dense gradient's.
    norms = [tf.norm(tf.convert_to_tensor(g)) for g in grads]
    session = tf1.Session(graph=graph)
    session.run(tf1.global_variables_initializer())
    t.assign_lr(session, cfg.learning_rate)
    state = session.run(t.initial_state)
    vx, vy = next(iter(reader.ptb_iterator(valid, cfg.batch_size,
                                           cfg.num_steps)))
    chunks = reader.ptb_iterator(train, cfg.batch_size, cfg.num_steps)
    for step, (x, y) in zip(range(steps), chunks):
      feed = {t.input_data: x, t.targets: y}
      feed.update(model_lib.state_feed(t.initial_state, state))
      cost, n, each, state, _ = session.run(
          [t.cost, norm, norms, t.final_state, t.train_op], feed)
      vcost = session.run(models.valid.cost, {models.valid.input_data: vx,
                                              models.valid.targets: vy})
      line = (step, round(float(np.exp(cost / cfg.num_steps)), 1),
              round(float(n), 2),
              round(float(np.exp(vcost / cfg.num_steps)), 1))
      if by_variable:
        line += ({_short_name(v): round(float(x), 2)
                  for v, x in zip(weights, each)},)
      print(line, flush=True)


def _short_name(variable) -> str:
  """``Model/RNN/multi_rnn_cell/cell_1/basic_lstm_cell/bias:0`` ->
  ``cell_1/bias``; ``Model/softmax_w:0`` -> ``softmax_w``."""
  parts = variable.name.split(":")[0].split("/")
  return "/".join([p for p in parts if p.startswith("cell_")] + parts[-1:])


if __name__ == "__main__":
  main(sys.argv)
