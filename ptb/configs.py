"""PTB model presets (the TF tutorial's Small/Medium/Large/Test configs).

| config | params (untied) | tutorial train / valid / test ppl |
|--------|-----------------|-----------------------------------|
| small  | 4,651,600       | 37.99 / 121.39 / 115.91           |
| medium | 19,775,200      | 48.45 / 86.16 / 82.07             |
| large  | 66,022,000      | 37.87 / 82.62 / 78.29             |
"""

import dataclasses

from common import config as config_lib
from common import memory
from common.compare import Reference


@dataclasses.dataclass(frozen=True)
class PTBConfig:
  """Hyperparameters of one PTB run (field names are the tutorial's)."""
  init_scale: float  # Weights start uniform in [-init_scale, init_scale].
  learning_rate: float  # Initial SGD learning rate.
  max_grad_norm: float  # Gradients clipped to this global norm.
  num_layers: int  # Stacked LSTM layers.
  num_steps: int  # Unrolled steps (truncated backprop length).
  hidden_size: int  # LSTM units; also the embedding size.
  max_epoch: int  # Epochs at the initial learning rate.
  max_max_epoch: int  # Total epochs.
  keep_prob: float  # Dropout keep probability (1.0 = no dropout).
  lr_decay: float  # Learning-rate factor per epoch after max_epoch.
  batch_size: int  # Parallel streams (rows) per step.
  vocab_size: int  # Rows of the embedding and softmax: at least the data's
  # vocabulary size (train.load_data refuses a larger data vocabulary and
  # only warns about a smaller one, whose extra rows are never used).

  def __post_init__(self):
    config_lib.check_positive(
        self, "init_scale", "learning_rate", "max_grad_norm", "num_layers",
        "num_steps", "hidden_size", "max_epoch", "max_max_epoch", "lr_decay",
        "batch_size", "vocab_size")
    config_lib.check_keep_prob(self, "keep_prob")

  def lr_for_epoch(self, epoch: int) -> float:
    """Learning rate of 0-based ``epoch``: lr * decay**max(epoch+1-max_epoch, 0)."""
    return self.learning_rate * self.lr_decay ** max(epoch + 1 - self.max_epoch,
                                                     0)


def eval_config(config: PTBConfig) -> PTBConfig:
  """The Test model's config: one stream, one step at a time.

  The tutorial's ``eval_config``; the name means only this here (the config a
  checkpoint is scored with is ``common.checkpoint.config_for_checkpoint``).
  """
  return dataclasses.replace(config, batch_size=1, num_steps=1)


def estimate_memory_bytes(config: PTBConfig) -> int:
  """Rough peak memory of training ``config``: weights, gradients and the
  SGD update (x3), plus logits and LSTM activations kept for backprop, plus
  the graph's ops per layer."""
  h, v, layers = config.hidden_size, config.vocab_size, config.num_layers
  params = 2 * v * h + v + layers * (8 * h * h + 4 * h)
  words = config.batch_size * config.num_steps
  activations = words * (3 * v + 12 * h * layers)
  return memory.training_bytes(params, 3, activations, layers)  # SGD.


def check_fits_in_memory(config: PTBConfig) -> None:
  """UserError when :func:`estimate_memory_bytes` exceeds the memory this
  machine has available (:func:`common.memory.check_fits`)."""
  memory.check_config_fits(
      estimate_memory_bytes(config), config,
      ("hidden_size", "vocab_size", "num_layers", "batch_size", "num_steps"),
      "use a smaller model, batch or num_steps")


CONFIGS = config_lib.Registry("model", {
    "small": PTBConfig(
        init_scale=0.1, learning_rate=1.0, max_grad_norm=5, num_layers=2,
        num_steps=20, hidden_size=200, max_epoch=4, max_max_epoch=13,
        keep_prob=1.0, lr_decay=0.5, batch_size=20, vocab_size=10000),
    "medium": PTBConfig(
        init_scale=0.05, learning_rate=1.0, max_grad_norm=5, num_layers=2,
        num_steps=35, hidden_size=650, max_epoch=6, max_max_epoch=39,
        keep_prob=0.5, lr_decay=0.8, batch_size=20, vocab_size=10000),
    "large": PTBConfig(
        init_scale=0.04, learning_rate=1.0, max_grad_norm=10, num_layers=2,
        num_steps=35, hidden_size=1500, max_epoch=14, max_max_epoch=55,
        keep_prob=0.35, lr_decay=1 / 1.15, batch_size=20, vocab_size=10000),
    "test": PTBConfig(
        init_scale=0.1, learning_rate=1.0, max_grad_norm=1, num_layers=1,
        num_steps=2, hidden_size=2, max_epoch=1, max_max_epoch=1,
        keep_prob=1.0, lr_decay=0.5, batch_size=20, vocab_size=10000),
})


def _published(model_name, tutorial, zaremba_name, zaremba):
  return [
      Reference("TF tutorial (%s)" % model_name,
                dict(zip(("train", "valid", "test"), tutorial))),
      Reference("Zaremba 2014 (%s)" % zaremba_name,
                dict(zip(("valid", "test"), zaremba))),
  ]


# Published perplexities: the TF tutorial's table, and Zaremba et al. 2014,
# Table 1 (the non-regularized LSTM is the counterpart of `small`).
PUBLISHED = {
    "small": _published("small", (37.99, 121.39, 115.91),
                        "non-regularized", (120.7, 114.5)),
    "medium": _published("medium", (48.45, 86.16, 82.07),
                         "medium regularized", (86.2, 82.7)),
    "large": _published("large", (37.87, 82.62, 78.29),
                        "large regularized", (82.2, 78.4)),
}
