"""The one place that imports TensorFlow for this project.

TensorFlow 2.21 ships Keras 3, under which ``tf.compat.v1.nn.rnn_cell.*``
raises "not available with Keras 3". The documented road is to install
``tf-keras`` (same minor version as TensorFlow) and to set
``TF_USE_LEGACY_KERAS=1`` *before TensorFlow is first imported*. Every module
of this project therefore does::

    from common.tf_compat import tf, tf1

TF1 idiom -> what it becomes here:

    import tensorflow as tf          ->  from common.tf_compat import tf1 as tf
    tf.contrib.rnn.BasicLSTMCell     ->  tf1.nn.rnn_cell.BasicLSTMCell (tf-keras)
    tf.train.Supervisor              ->  tf1.Session + common.checkpoint
    queue runners / ptb_producer     ->  numpy batches fed through feed_dict
"""

import os
import sys

if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
  raise ImportError(
      "tensorflow was imported before common.tf_compat set "
      "TF_USE_LEGACY_KERAS=1; import common.tf_compat first.")
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Hide C++ INFO/WARNING.

import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position

tf1 = tf.compat.v1
# Eager stays on (the TF2 twins need it). Every TF1 graph of this project is
# built inside an explicit ``with tf.Graph().as_default():`` (see
# ``common.session.build_graph``), where TF1 ops, placeholders and Sessions
# work as in TF1; outside one, ``tf1.placeholder`` fails loudly.
tf1.logging.set_verbosity(tf1.logging.ERROR)

rnn_cell = tf1.nn.rnn_cell  # Fails loudly here if tf-keras is missing.

__all__ = ["tf", "tf1", "rnn_cell"]
