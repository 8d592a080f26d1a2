"""nncli: train neural networks on CSV files from the terminal."""

__version__ = "0.1.0"
