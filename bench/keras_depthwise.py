"""Record what Keras 3's DepthwiseConv2D and SeparableConv2D compute, for tests/test_models.py
(Keras is not a test dependency): each layer's weights as Keras initialised them, a fixed input and
Keras's output (TF "same" padding with strides 2: the padding is asymmetric), and the spread of each
kernel Keras draws by glorot_uniform at a size where the fans differ (Keras's fans of a depthwise
kernel (kh, kw, C, m): kh * kw * C in, kh * kw * m out).

    /path/to/venv-with-tensorflow/bin/python bench/keras_depthwise.py --out tests/data/keras_depthwise.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def main() -> None:
    import keras
    import numpy as np
    from keras import layers

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/data/keras_depthwise.json"))
    args = parser.parse_args()
    keras.utils.set_random_seed(3)
    x = np.random.default_rng(0).standard_normal((2, 7, 6, 3)).astype("float32")
    built = {
        "depthwise": layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, activation="tanh",
                                            bias_initializer="random_normal"),
        "separable": layers.SeparableConv2D(4, (3, 2), strides=2, padding="same", depth_multiplier=2,
                                            activation="tanh", bias_initializer="random_normal"),
    }
    cases = {}
    for name, layer in built.items():
        out = layer(x)
        cases[name] = {"config": {k: v for k, v in layer.get_config().items() if k in (
                           "kernel_size", "strides", "padding", "depth_multiplier", "filters", "activation")},
                       "weights": {w.path.split("/")[-1]: np.asarray(w.numpy()).tolist() for w in layer.weights},
                       "output": np.asarray(out).tolist()}
    # glorot_uniform's spread over a large kernel: sqrt(2 / (fan_in + fan_out)) as Keras computes the fans
    spread = {}
    for name, layer, shape in (("depthwise_kernel", layers.DepthwiseConv2D(5, depth_multiplier=8), (1, 12, 12, 64)),
                               ("separable_depthwise_kernel", layers.SeparableConv2D(256, 3, depth_multiplier=4),
                                (1, 12, 12, 32))):
        layer.build(shape)
        spread[name] = float(np.std(layer.weights[0].numpy()))
        if name.startswith("separable"):
            spread["separable_pointwise_kernel"] = float(np.std(layer.weights[1].numpy()))
    recorded = {"keras": keras.__version__, "backend": keras.backend.backend(), "input": x.tolist(),
                "cases": cases, "glorot_uniform_std": spread}
    args.out.write_text(json.dumps(recorded) + "\n")
    print(f"wrote {args.out}: " + ", ".join(f"{k} std {v:.5f}" for k, v in spread.items()))


if __name__ == "__main__":
    main()
