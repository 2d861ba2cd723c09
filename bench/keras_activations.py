"""Record what Keras 3's activations compute, for tests/test_models.py (Keras is not a test
dependency): each name mnistlab takes, applied by ``keras.activations.get(name)`` to a fixed grid
from -30 to 30 (the tails: softplus's and exponential's large values, the hard functions' corners
at -3, 0, 3 and 6), and a model JSON holding Keras's ``ReLU(max_value=6.0)`` layer (MobileNet's
relu6) with its parameter count.

    /path/to/venv-with-tensorflow/bin/python bench/keras_activations.py --out tests/data/keras_activations.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

NAMES = ("linear", "relu", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "tanh", "softmax", "swish", "silu",
         "relu6", "hard_sigmoid", "hard_silu", "hard_swish", "softplus", "softsign", "mish", "exponential")


def main() -> None:
    import keras
    import numpy as np
    from keras import layers

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/data/keras_activations.json"))
    args = parser.parse_args()
    grid = np.concatenate([np.linspace(-30, 30, 25), [-3.0, -2.5, 0.0, 3.0, 5.9, 6.0, 6.1, 20.5]]).astype("float32")
    x = grid.reshape(3, 11)
    outputs = {name: np.asarray(keras.activations.get(name)(keras.ops.convert_to_tensor(x))).tolist() for name in NAMES}
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(4, 3), layers.BatchNormalization(),
                              layers.ReLU(6.0), layers.Flatten(), layers.Dense(10, activation="hard_silu")])
    record = {"keras": keras.__version__, "x": x.tolist(), "outputs": outputs,
              "relu6_model": {"json": json.loads(model.to_json()), "params": model.count_params()}}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}: {len(outputs)} activations, Keras {keras.__version__}")


if __name__ == "__main__":
    main()
