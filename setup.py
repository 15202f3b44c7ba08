"""tf1-rnn-tutorials: the classic TF1 RNN tutorials on TensorFlow 2.21."""

from setuptools import setup

setup(
    name="tf1-rnn-tutorials",
    version="0.1.0",
    description=("PTB word LM, row-by-row MNIST and IMDB sentiment LSTMs in "
                 "tf.compat.v1 graph mode on current TensorFlow"),
    python_requires=">=3.10",
    packages=["common", "ptb", "mnist_rnn", "imdb"],
    install_requires=[
        "tensorflow==2.21.*",
        "tf-keras==2.21.*",
        "absl-py",
        "numpy",
    ],
    extras_require={
        # pytest-xdist: ./run.sh test runs two workers (the suite is mostly
        # single-threaded TF start-ups and subprocess CLIs).
        "test": ["pytest", "pytest-xdist"],
        "report": ["matplotlib"],
        # The PyTorch peer of `python -m ptb.bench` (optional; pin: the CPU
        # build of this version lies on the project's machines).
        "bench": ["torch==2.13.0"],
    },
    entry_points={
        "console_scripts": [
            "ptb-word-lm=ptb.ptb_word_lm:run",
            "ptb-generate=ptb.generate:run",
            "ptb-export=ptb.export:run",
            "mnist-rnn=mnist_rnn.mnist_rnn:run",
            "imdb-lstm=imdb.imdb_lstm:run",
            "tf1-rnn-report=common.report:run",
        ],
    },
)
