"""IMDB presets: the Keras models of seeds 000, 001 and 003, and ``test``.

| config  | vocab | maxlen | embed | RNN          | dropout     | optimizer    | batch | epochs | params    | seed's test acc |
|---------|-------|--------|-------|--------------|-------------|--------------|-------|--------|-----------|-----------------|
| seed000 | 10000 | 80     | 100   | 2x LSTM 64   | 0.5 inputs  | Adam 1e-3    | 128   | 4      | 1,075,329 | ~0.83           |
| seed001 | 10000 | 500    | 32    | LSTM 100     | -           | Adam 1e-3    | 64    | 10 (*) | 373,301   | -               |
| seed003 | 10000 | 500    | 32    | LSTM 32      | -           | RMSprop 1e-3 | 128   | 10     | 328,353   | 0.867 (0.86744) |
| test    | 50    | 12     | 8     | 2x LSTM 8    | 0.5 inputs  | Adam 1e-2    | 4     | 2      | 1,497     | -               |

(*) seed 001 holds out the first 64 (= batch size) training reviews for
validation and stops early on ``val_loss`` with patience 10 (which cannot
trigger within 10 epochs); ``validation_split=0.00256`` is 64 of 25,000.
Seed 003 holds out 20% (``validation_split=0.2``); seed 000 validates on the
test set, which this port does not do (the test set is used once, at the end).
"""

import dataclasses

from common import config as config_lib
from common import memory
from common.compare import Reference
from common.errors import UserError
from imdb import reader

CELLS = ("lstm", "gru")
OPTIMIZERS = ("adam", "rmsprop")
PADDINGS = ("pre", "post")
# Fields that may change when a run is resumed (train a finished run longer,
# change the early-stopping patience); the others must match the run's.
RESUMABLE_CHANGES = ("max_epochs", "patience")


@dataclasses.dataclass(frozen=True)
class IMDBConfig:
  """Hyperparameters of one IMDB run (Keras names in the comments)."""
  num_words: int  # Vocabulary incl. ids 0-3 (Keras load_data num_words).
  maxlen: int  # Ids per review after pad_sequences (Keras maxlen).
  embed_size: int  # Embedding width (Keras Embedding output_dim).
  cell: str  # "lstm" (LSTMCell) or "gru" (GRUCell).
  num_layers: int  # Stacked RNN layers (MultiRNNCell).
  hidden_size: int  # Units per RNN layer.
  dropout: float  # Fraction of each cell's inputs dropped (Keras dropout=).
  optimizer: str  # "adam" or "rmsprop", with Keras's defaults.
  learning_rate: float  # Optimizer learning rate.
  batch_size: int  # Reviews per training step (and per eval step).
  max_epochs: int  # Passes over the training reviews.
  validation_split: float  # Share of training reviews held out, in [0, 1).
  patience: int  # Early stop after this many epochs without a lower
  #                validation loss (Keras EarlyStopping); 0 = never.
  padding: str  # "pre": pad in front, the RNN reads the pads (Keras);
  #               "post": pad behind, dynamic_rnn gets sequence_length.
  truncating: str  # "pre" keeps the last maxlen ids (Keras); "post" the first.
  seed: int  # Graph seed, data split and per-epoch shuffles; in
  #           [0, config_lib.MAX_SEED] (np.random.seed refuses larger
  #           values).

  def __post_init__(self):
    config_lib.check_positive(self, "num_words", "maxlen", "embed_size",
                              "num_layers", "hidden_size", "learning_rate",
                              "batch_size", "max_epochs")
    config_lib.check_non_negative(self, "patience")
    config_lib.check_choice(self, "cell", CELLS)
    config_lib.check_choice(self, "optimizer", OPTIMIZERS)
    config_lib.check_choice(self, "padding", PADDINGS)
    config_lib.check_choice(self, "truncating", PADDINGS)
    if self.num_words <= reader.INDEX_FROM + 1:
      raise UserError("num_words must be > %d (ids 0-%d are reserved), got %r"
                      % (reader.INDEX_FROM + 1, reader.INDEX_FROM,
                         self.num_words))
    config_lib.check_seed(self.seed)
    if not 0.0 <= self.dropout < 1.0:
      raise UserError("dropout must be in [0, 1), got %r" % (self.dropout,))
    if not 0.0 <= self.validation_split < 1.0:
      raise UserError("validation_split must be in [0, 1), got %r" %
                      (self.validation_split,))
    if self.patience and not self.validation_split:
      raise UserError("patience (early stopping) needs validation_split > 0")


SEED000 = IMDBConfig(
    num_words=10000, maxlen=80, embed_size=100, cell="lstm", num_layers=2,
    hidden_size=64, dropout=0.5, optimizer="adam", learning_rate=1e-3,
    batch_size=128, max_epochs=4, validation_split=0.0, patience=0,
    padding="pre", truncating="pre", seed=22)

_REVIEWS = 50000  # Train + test reviews, padded to maxlen int32 ids each.


def estimate_memory_bytes(config: IMDBConfig) -> int:
  """Rough peak memory of training ``config``: the padded reviews, the
  weights with their gradients and optimizer slots (x4), plus a step's
  embeddings and cell activations, plus the graph's ops per layer."""
  h, e = config.hidden_size, config.embed_size
  gates = 4 if config.cell == "lstm" else 3
  params = (config.num_words * e + config.num_layers * gates * h *
            (max(e, h) + h + 1) + h + 1)
  activations = config.batch_size * config.maxlen * (
      e + 3 * gates * h * config.num_layers)
  return (memory.training_bytes(params, 4, activations, config.num_layers)
          + 4 * _REVIEWS * config.maxlen)


def check_fits_in_memory(config: IMDBConfig) -> None:
  """UserError when :func:`estimate_memory_bytes` exceeds the memory this
  machine has available (:func:`common.memory.check_fits`)."""
  memory.check_config_fits(
      estimate_memory_bytes(config), config,
      ("num_words", "maxlen", "embed_size", "hidden_size", "num_layers",
       "batch_size"),
      "use a smaller model, maxlen or batch")


CONFIGS = config_lib.Registry("config", {
    "seed000": SEED000,
    "seed001": dataclasses.replace(
        SEED000, maxlen=500, embed_size=32, num_layers=1, hidden_size=100,
        dropout=0.0, batch_size=64, max_epochs=10, validation_split=0.00256,
        patience=10),
    "seed003": dataclasses.replace(
        SEED000, maxlen=500, embed_size=32, num_layers=1, hidden_size=32,
        dropout=0.0, optimizer="rmsprop", batch_size=128, max_epochs=10,
        validation_split=0.2),
    "test": dataclasses.replace(
        SEED000, num_words=50, maxlen=12, embed_size=8, hidden_size=8,
        learning_rate=1e-2, batch_size=4, max_epochs=2, validation_split=0.25),
})

# What the seeds report (metric names as in metrics.json).
PUBLISHED = {
    "seed000": [Reference("seed 000 (Keras, 2x LSTM 64)",
                          {"test_accuracy": 0.83})],
    "seed003": [Reference("seed 003 (Keras, LSTM 32)",
                          {"test_accuracy": 0.86744, "test_loss": 0.39749})],
}

# Test accuracy the port must reach: the project's targets, near what the
# seeds reported (seed000 ~0.83, seed003 0.86744).
TARGETS = {"seed000": 0.83, "seed003": 0.867}
