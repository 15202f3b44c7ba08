"""The first training chunks of PTB large (or another preset), one line each.

Usage (from the project root; data in $DATA_DIR/ptb, default ../shared/data):

    python docs/results/ptb_large_1epoch/first_steps.py [--model=large] \
        [--keep_prob=K] [--learning_rate=LR] [--max_grad_norm=N] \
        [--steps=16] [--seed=1234] [--by_variable] [--valid_every=1]

K, LR and N default to the ``--model`` preset's (``large``: 0.35, 1.0, 10).
Each printed line: (step, the chunk's training perplexity, the global
gradient norm before clipping, the Valid graph's perplexity on the first
valid chunk after the step), and with ``--by_variable`` each variable's
gradient norm and the top layer's output at the chunk's last step (its norm,
and its batch mean's). With ``--valid_every=N`` only every N-th step (and
the last) is printed. The port's own graphs (``ptb.model.build_models``, the
faithful ``basic`` path).
"""
import dataclasses
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, ROOT)

# pylint: disable=wrong-import-position
from absl import flags
import numpy as np

from common import app  # One error line for bad input (missing data).
from common.tf_compat import tf, tf1
from ptb import configs, model as model_lib, reader

_MODEL = flags.DEFINE_enum("model", "large", configs.CONFIGS.names,
                           "Preset.")
_KEEP_PROB = flags.DEFINE_float("keep_prob", None,
                                "Dropout keep (default: the preset's).")
_LR = flags.DEFINE_float("learning_rate", None,
                         "SGD rate (default: the preset's).")
_CLIP = flags.DEFINE_float("max_grad_norm", None,
                           "Global-norm clip (default: the preset's).")
_STEPS = flags.DEFINE_integer("steps", 16, "Training chunks to run.",
                              lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 1234, "Graph and dropout seed.",
                             lower_bound=0)
_BY_VARIABLE = flags.DEFINE_bool("by_variable", False,
                                 "Also print each variable's gradient norm.")
_VALID_EVERY = flags.DEFINE_integer("valid_every", 1,
                                    "Print (and evaluate) every N-th step.",
                                    lower_bound=1)


def _short_name(variable) -> str:
  """``Model/RNN/multi_rnn_cell/cell_1/basic_lstm_cell/bias:0`` ->
  ``cell_1/bias``; ``Model/softmax_w:0`` -> ``softmax_w``."""
  parts = variable.name.split(":")[0].split("/")
  return "/".join([p for p in parts if p.startswith("cell_")] + parts[-1:])


def _top_layer_h(h) -> dict:
  """The top layer's output at the chunk's last step, [batch, hidden]: its
  mean norm over the batch, and the norm of its batch mean (the part every
  sequence shares)."""
  return {"top_h_norm": round(float(np.linalg.norm(h, axis=1).mean()), 3),
          "top_h_shared": round(float(np.linalg.norm(h.mean(axis=0))), 3)}


def main(unused_argv):
  cfg = configs.CONFIGS.get(_MODEL.value)
  changes = dict(keep_prob=_KEEP_PROB.value, learning_rate=_LR.value,
                 max_grad_norm=_CLIP.value)
  cfg = dataclasses.replace(cfg, **{k: v for k, v in changes.items()
                                    if v is not None})
  data_dir = os.environ.get("DATA_DIR",
                            os.path.join(os.path.dirname(ROOT), "shared/data"))
  train, valid, _, _ = reader.ptb_raw_data(os.path.join(data_dir, "ptb"))
  graph = tf.Graph()
  with graph.as_default():
    tf1.set_random_seed(_SEED.value)
    models = model_lib.build_models(cfg, configs.eval_config(cfg),
                                    dropout_seed=_SEED.value)
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
    for step, (x, y) in zip(range(_STEPS.value), chunks):
      feed = {t.input_data: x, t.targets: y}
      feed.update(model_lib.state_feed(t.initial_state, state))
      cost, n, each, state, _ = session.run(
          [t.cost, norm, norms, t.final_state, t.train_op], feed)
      if (step + 1) % _VALID_EVERY.value and step + 1 < _STEPS.value:
        continue
      vcost = session.run(models.valid.cost, {models.valid.input_data: vx,
                                              models.valid.targets: vy})
      line = (step, round(float(np.exp(cost / cfg.num_steps)), 1),
              round(float(n), 2),
              round(float(np.exp(vcost / cfg.num_steps)), 1))
      if _BY_VARIABLE.value:
        line += ({_short_name(v): round(float(x), 2)
                  for v, x in zip(weights, each)},
                 _top_layer_h(state[-1].h))
      print(line, flush=True)


if __name__ == "__main__":
  app.run(main)
