"""PTB word-level language model (Zaremba et al. 2014; the TF tutorial)."""
