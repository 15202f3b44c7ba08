"""TF1's RNN cells restated in float64 numpy, for the math tests.

Independent of the code under test: each function is the cell's equations as
TF1 documents them (``rnn_cell_impl.py``), one time step, kernels in TF1's
layout (``[inputs + H, nH]``, the input rows first).
"""

import numpy as np


def sigmoid(z):
  return 1 / (1 + np.exp(-z))


def lstm_step(kernel, bias, x, c, h, forget_bias):
  """One ``BasicLSTMCell``/``LSTMCell`` step (no peepholes, no projection).

  Gates i, j, f, o in that order along the kernel's columns; the forget
  bias is added to f inside the sigmoid (0 in the PTB tutorial, TF1's
  default 1 in the MNIST seed).

  Returns:
    ``(c, h)`` after the step.
  """
  gates = np.concatenate([x, h], axis=1) @ kernel + bias
  i, j, f, o = np.split(gates, 4, axis=1)
  c = c * sigmoid(f + forget_bias) + sigmoid(i) * np.tanh(j)
  return c, np.tanh(c) * sigmoid(o)


def gru_step(gates_kernel, gates_bias, candidate_kernel, candidate_bias, x,
             h):
  """One ``GRUCell`` step: gates r, u; the reset applied to h before the
  candidate's matmul; ``h' = u * h + (1 - u) * candidate``."""
  r, u = np.split(
      sigmoid(np.concatenate([x, h], axis=1) @ gates_kernel + gates_bias), 2,
      axis=1)
  candidate = np.tanh(
      np.concatenate([x, r * h], axis=1) @ candidate_kernel + candidate_bias)
  return u * h + (1 - u) * candidate


def log_softmax(logits):
  """``log softmax`` over the last axis, stable."""
  shifted = logits - logits.max(axis=-1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
