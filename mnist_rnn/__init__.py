"""Row-by-row MNIST: stacked and bidirectional LSTMs (TF1 graph mode)."""
