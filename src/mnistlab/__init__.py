"""mnistlab: train, compare and inspect small image classifiers on the MNIST family."""

from __future__ import annotations

__version__ = "0.1.0"
