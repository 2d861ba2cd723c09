"""Record which inputs Keras 3 accepts for each layer type mnistlab offers.

For every layer type of ``mnistlab.specs.LAYER_TYPES`` (one Keras layer each, built with Keras's
own class), this tries it on a feature map (after a Conv2D) and on each kind of flat vector a
sequential model can produce (after Flatten, Dense and GlobalAveragePooling2D), and writes
whether Keras built the model and the first line of its error to
``tests/data/keras_layer_inputs.json``. ``tests/test_specs.py`` checks mnistlab's specs against
that file, so TensorFlow is not needed to run the tests::

    /path/to/venv-with-tensorflow/bin/python bench/keras_layer_inputs.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402  (after the environment is set)
from keras import layers  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "keras_layer_inputs.json"

# One Keras layer per mnistlab layer type (the same names; Normalization given its statistics).
LAYERS = {
    "Flatten": lambda: layers.Flatten(),
    "Dense": lambda: layers.Dense(3),
    "Conv2D": lambda: layers.Conv2D(2, 1),
    "MaxPooling2D": lambda: layers.MaxPooling2D(1),
    "AveragePooling2D": lambda: layers.AveragePooling2D(1),
    "GlobalAveragePooling2D": lambda: layers.GlobalAveragePooling2D(),
    "Dropout": lambda: layers.Dropout(0.5),
    "BatchNormalization": lambda: layers.BatchNormalization(),
    "Activation": lambda: layers.Activation("relu"),
    "Normalization": lambda: layers.Normalization(mean=0.0, variance=1.0),
    "ZeroPadding2D": lambda: layers.ZeroPadding2D(1),
    "DepthwiseConv2D": lambda: layers.DepthwiseConv2D(1),
    "SeparableConv2D": lambda: layers.SeparableConv2D(2, 1),
    "SpatialDropout2D": lambda: layers.SpatialDropout2D(0.5),
    "GaussianNoise": lambda: layers.GaussianNoise(0.1),
    "GaussianDropout": lambda: layers.GaussianDropout(0.5),
}
# What comes before the layer under test: a map, or one of the three ways to get a flat vector.
BEFORE = {
    "map": lambda: [layers.Conv2D(2, 3)],
    "Flatten": lambda: [layers.Conv2D(2, 3), layers.Flatten()],
    "Dense": lambda: [layers.Flatten(), layers.Dense(5)],
    "GlobalAveragePooling2D": lambda: [layers.Conv2D(2, 3), layers.GlobalAveragePooling2D()],
}


def try_build(before: str, layer: str) -> dict[str, object]:
    """Whether Keras builds ``Input(8, 8, 1) -> BEFORE[before] -> LAYERS[layer]``, and its message."""
    try:
        model = keras.Sequential([keras.Input((8, 8, 1)), *BEFORE[before](), LAYERS[layer]()])
    except (ValueError, TypeError) as exc:
        return {"accepted": False, "error": str(exc).splitlines()[0]}
    return {"accepted": True, "output_rank": len(model.output_shape) - 1}


def main() -> None:
    table = {layer: {before: try_build(before, layer) for before in BEFORE} for layer in LAYERS}
    # AveragePooling2D and MaxPooling2D without pool_size: required or defaulted in this Keras?
    pool_size = {}
    for name in ("MaxPooling2D", "AveragePooling2D"):
        try:
            pool_size[name] = {"required": False, "default": list(getattr(layers, name)().pool_size)}
        except TypeError as exc:
            pool_size[name] = {"required": True, "error": str(exc)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"keras": keras.__version__, "inputs": table, "pool_size": pool_size}, indent=1) + "\n")
    print(f"wrote {OUT} (Keras {keras.__version__})")


if __name__ == "__main__":
    main()
