"""Machinery shared by every workload (ptb, mnist_rnn, imdb), and nothing else.

Import TensorFlow through :mod:`common.tf_compat` only: it is the single place
that selects the legacy Keras 2 (``tf-keras``) that ``tf.compat.v1.nn.rnn_cell``
needs on TensorFlow 2.21.
"""
