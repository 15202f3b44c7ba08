"""IMDB sentiment LSTM/GRU: the seeds' Keras models in tf.compat.v1 graph mode.

Rooms: :mod:`imdb.reader` (pure numpy: reviews -> padded id arrays),
:mod:`imdb.download` (fetches the public archive), :mod:`imdb.configs`
(presets), :mod:`imdb.model` (the TF1 graph), :mod:`imdb.train` (session,
training, evaluation), :mod:`imdb.imdb_lstm` (the entry script) and
:mod:`imdb.bench` (throughput benchmark and memory as JSON).
"""
