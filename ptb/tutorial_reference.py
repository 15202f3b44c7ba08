"""The tutorial's PTB graph, written the tutorial's way: the reference peer.

Used by the tests (checkpoints "written by the tutorial", perplexities "as the
tutorial computes them") and by ``python -m ptb.bench`` (the plain tutorial
algorithm, static unroll, beside this port's graphs).

An independent statement of ``PTBModel`` from tensorflow/models
``tutorials/rnn/ptb/ptb_word_lm.py`` (TF >= 1.3, ``rnn_mode``): cells built by
``_get_lstm_cell`` (BASIC: ``BasicLSTMCell(forget_bias=0.0)``; BLOCK:
``LSTMBlockCell(forget_bias=0.0)``, whose variables are named
``lstm_cell/{kernel,bias}`` with BasicLSTMCell's layout; contrib is gone, so
``LSTMCell`` with no peepholes or projection, which has that name, layout
and math, stands in for it), a ``MultiRNNCell``, the static unroll in
``variable_scope("RNN")`` and ``sequence_loss(average_across_timesteps=False,
average_across_batch=True)``. It shares no code with ``ptb/model.py``: a
checkpoint it writes is what the tutorial would write.
"""

from common.tf_compat import rnn_cell, tf, tf1


def build(config, mode: str, is_training: bool = False):
  """Builds the tutorial's graph in the current graph and variable scope.

  Args:
    config: a PTBConfig.
    mode: ``BASIC`` or ``BLOCK``.
    is_training: adds the tutorial's lr variable and SGD train op.

  Returns:
    A dict of the placeholders and tensors: input_data, targets,
    initial_state, final_state, logits [batch, steps, vocab], cost (and
    train_op, lr when training).
  """
  b, t, h, v = (config.batch_size, config.num_steps, config.hidden_size,
                config.vocab_size)
  input_data = tf1.placeholder(tf.int32, [b, t])
  targets = tf1.placeholder(tf.int32, [b, t])
  with tf.device("/cpu:0"):
    embedding = tf1.get_variable("embedding", [v, h], dtype=tf.float32)
    inputs = tf1.nn.embedding_lookup(embedding, input_data)

  def make_cell():
    if mode == "BASIC":
      return rnn_cell.BasicLSTMCell(h, forget_bias=0.0, state_is_tuple=True,
                                    reuse=not is_training)
    return rnn_cell.LSTMCell(h, forget_bias=0.0, state_is_tuple=True,
                             reuse=not is_training)

  cell = rnn_cell.MultiRNNCell([make_cell() for _ in range(config.num_layers)],
                               state_is_tuple=True)
  initial_state = cell.zero_state(b, tf.float32)
  state = initial_state
  outputs = []
  with tf1.variable_scope("RNN"):
    for time_step in range(t):
      if time_step > 0:
        tf1.get_variable_scope().reuse_variables()
      cell_output, state = cell(inputs[:, time_step, :], state)
      outputs.append(cell_output)
  output = tf.reshape(tf.concat(outputs, 1), [-1, h])
  softmax_w = tf1.get_variable("softmax_w", [h, v], dtype=tf.float32)
  softmax_b = tf1.get_variable("softmax_b", [v], dtype=tf.float32)
  logits = tf.reshape(tf1.nn.xw_plus_b(output, softmax_w, softmax_b),
                      [b, t, v])
  # sequence_loss with weights of ones, averaged across the batch only.
  crossent = tf1.nn.sparse_softmax_cross_entropy_with_logits(
      labels=targets, logits=logits)
  cost = tf.reduce_sum(tf.reduce_sum(crossent, axis=0) / b)
  out = dict(input_data=input_data, targets=targets,
             initial_state=initial_state, final_state=state, cost=cost,
             logits=logits)
  if is_training:
    lr = tf1.Variable(0.0, trainable=False)
    tvars = tf1.trainable_variables()
    grads, _ = tf.clip_by_global_norm(tf.gradients(cost, tvars),
                                      config.max_grad_norm)
    out["train_op"] = tf1.train.GradientDescentOptimizer(lr).apply_gradients(
        zip(grads, tvars), global_step=tf1.train.get_or_create_global_step())
    out["lr"] = lr
  return out


def write_checkpoint(config, mode: str, prefix: str, seed: int = 1) -> None:
  """Initializes the tutorial's graph (its initializer) and saves it."""
  with tf.Graph().as_default():
    tf1.set_random_seed(seed)
    init = tf1.random_uniform_initializer(-config.init_scale,
                                          config.init_scale)
    with tf1.variable_scope("Model", initializer=init):
      build(config, mode, is_training=True)
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      tf1.train.Saver().save(sess, prefix)


def perplexity(config, mode: str, prefix: str, data) -> float:
  """The tutorial's run_epoch over ``data`` with its graph and ``prefix``."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from ptb import reader  # pylint: disable=g-import-not-at-top
  with tf.Graph().as_default():
    with tf1.variable_scope("Model"):
      # The tutorial's eval graphs reuse the training graph's variables;
      # alone here, the graph creates them (is_training: reuse=False).
      m = build(config, mode, is_training=True)
    with tf1.Session() as sess:
      tf1.train.Saver(tf1.trainable_variables()).restore(sess, prefix)
      state = sess.run(m["initial_state"])
      costs, iters = 0.0, 0
      for x, y in reader.ptb_iterator(data, config.batch_size,
                                      config.num_steps):
        feed = {m["input_data"]: x, m["targets"]: y}
        for i, (c, h) in enumerate(m["initial_state"]):
          feed[c], feed[h] = state[i].c, state[i].h
        cost, state = sess.run([m["cost"], m["final_state"]], feed)
        costs += float(cost)
        iters += config.num_steps
  return float(np.exp(costs / iters))
