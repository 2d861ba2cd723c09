"""Record Keras's JSON of a few models (``model.to_json()``) with what Keras says of each: parameter
counts and every layer's output shape, for tests/test_keras_json.py (Keras is not a test dependency).

    KERAS_BACKEND=torch PYTHONPATH=/path/to/keras python bench/keras_model_json.py \
        --out tests/data/keras_models.json

"readable" models are ones mnistlab reads (tests check that its summary agrees with Keras's);
the others it refuses, each for the reason under "refused".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def models() -> dict[str, tuple[object, str | None]]:
    """name -> (a Keras model, None or the words mnistlab's refusal must contain)."""
    import keras
    from keras import layers

    def chain(*stack: object, shape: tuple[int, ...] = (28, 28, 1)) -> keras.Model:
        x = inputs = keras.Input(shape)
        for layer in stack:
            x = layer(x)
        return keras.Model(inputs, x)

    inputs = keras.Input((28, 28, 1))
    branch = layers.Conv2D(1, 3, padding="same")(inputs)
    added = layers.Add()([branch, inputs])
    residual = keras.Model(inputs, layers.Dense(10)(layers.Flatten()(added)))
    return {
        "seed000-cnn": (keras.Sequential([
            keras.Input((28, 28, 1)), layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(), layers.Flatten(),
            layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]), None),
        "bn-regularized": (keras.Sequential([
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, padding="same", kernel_initializer="he_normal", kernel_regularizer="l2", use_bias=False),
            layers.BatchNormalization(), layers.Activation("relu"),
            layers.Conv2D(32, 5, strides=2, padding="same", kernel_regularizer=keras.regularizers.L1L2(1e-5, 1e-4)),
            layers.BatchNormalization(momentum=0.9, epsilon=1e-5), layers.Dropout(0.4),
            layers.AveragePooling2D(pool_size=2), layers.Conv2D(64, 3, activation="relu"),
            layers.GlobalAveragePooling2D(), layers.Dense(10, activation="softmax",
                                                          kernel_initializer=keras.initializers.RandomNormal())]), None),
        "flat-dense": (keras.Sequential([
            keras.Input((784,)), layers.Dense(512, activation="relu"), layers.Dropout(0.2),
            layers.Dense(256, activation="relu"), layers.Dropout(0.2), layers.Dense(10, activation="softmax")]), None),
        "functional-chain": (chain(layers.Conv2D(16, 3), layers.BatchNormalization(), layers.Activation("relu"),
                                   layers.MaxPooling2D(), layers.Flatten(), layers.Dense(10, activation="softmax")), None),
        "functional-add": (residual, "do not form one chain"),
        "reshaped-rescaled": (keras.Sequential([
            keras.Input((784,)), layers.Rescaling(1 / 255), layers.Reshape((28, 28, 1)), layers.Conv2D(8, 3, activation="relu"),
            layers.MaxPooling2D(), layers.Flatten(), layers.Dense(10, activation="softmax")]), None),
        "rescaled-otherwise": (keras.Sequential([keras.Input((28, 28, 1)), layers.Rescaling(1 / 127.5, offset=-1),
                                                 layers.Flatten(), layers.Dense(10)]),
                               "Rescaling(scale = 0.00784313725490196, offset = -1): mnistlab feeds"),
        "activation-layers": (keras.Sequential([
            keras.Input((28, 28, 1)), layers.Normalization(mean=0.13, variance=0.09), layers.Conv2D(8, 3), layers.ReLU(),
            layers.Flatten(), layers.Dense(16), layers.LeakyReLU(negative_slope=0.2), layers.Dense(10), layers.Softmax()]),
            None),
        "relu6-layer": (keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(8), layers.ReLU(6.0),
                                          layers.Dense(10)]), None),  # MobileNet's relu6
        "relu-capped-at-5": (keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(8), layers.ReLU(5.0),
                                               layers.Dense(10)]),
                             "max_value = 5.0: mnistlab's relu activation has max_value = null, and no other"),
        "dilated": (keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(8, 3, dilation_rate=2), layers.Flatten(),
                                      layers.Dense(10)]), "dilation_rate = [2, 2] is a setting mnistlab does not build"),
        "leaky-relu-layer": (keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(32),
                                               layers.LeakyReLU(), layers.Dense(16), layers.LeakyReLU(negative_slope=0.1),
                                               layers.Dense(10)]), None),  # (its default slope 0.3, and 0.1)
        "bias-initializer": (keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),
                                               layers.Dense(10, bias_initializer="ones")]),
                             'bias_initializer = Ones() is a setting mnistlab does not build (only "Zeros")'),
        "random-normal-stddev": (keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(
            10, kernel_initializer=keras.initializers.RandomNormal(stddev=0.01))]),
            "RandomNormal with stddev = 0.01: mnistlab's random_normal is Keras's default (mean = 0.0, stddev = 0.05)"),
        "functional-dropout": (chain(layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dropout(0.2),
                                     layers.Dense(10, activation="softmax")), None),  # its call written training=False
        "zero-padded": (keras.Sequential([keras.Input((28, 28, 1)), layers.ZeroPadding2D(((1, 1), (2, 2))),
                                          layers.Conv2D(4, 3), layers.ZeroPadding2D(1), layers.MaxPooling2D(),
                                          layers.Flatten(), layers.Dense(10)]), None),
        # Keras's depthwise, separable and noise layers (helper-245 found them unbuilt)
        "separable-depthwise": (keras.Sequential([
            keras.Input((28, 28, 1)), layers.GaussianNoise(0.1), layers.Conv2D(8, 3, activation="relu"),
            layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, activation="relu",
                                   depthwise_initializer="he_normal", depthwise_regularizer="l2"),
            layers.SpatialDropout2D(0.2),
            layers.SeparableConv2D(32, (3, 5), padding="same", depth_multiplier=3, activation="relu",
                                   pointwise_initializer="he_uniform", pointwise_regularizer=keras.regularizers.L2(1e-4)),
            layers.SeparableConv2D(16, 3, strides=2, use_bias=False), layers.BatchNormalization(),
            layers.GlobalAveragePooling2D(), layers.GaussianDropout(0.3), layers.Dense(10, activation="softmax")]), None),
        "separable-dilated": (keras.Sequential([keras.Input((28, 28, 1)), layers.SeparableConv2D(4, 3, dilation_rate=2),
                                                layers.Flatten(), layers.Dense(10)]),
                              "dilation_rate = [2, 2] is a setting mnistlab does not build"),
        "zero-padded-channels-first": (keras.Sequential([keras.Input((28, 28, 1)), layers.ZeroPadding2D(
            1, data_format="channels_first"), layers.Flatten(), layers.Dense(10)]), "channels"),
    }


def main() -> None:
    import keras

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/data/keras_models.json"))
    args = parser.parse_args()
    recorded = {"keras": keras.__version__, "backend": keras.backend.backend(), "models": {}}
    for name, (model, refused) in models().items():
        entry = {"json": json.loads(model.to_json()), "params": model.count_params(),
                 "trainable": sum(int(w.numpy().size) for w in model.trainable_weights)}
        if refused is None:
            entry["output_shapes"] = [list(layer.output.shape[1:]) for layer in model.layers  # of the layers read
                                      if not isinstance(layer, (keras.layers.InputLayer, keras.layers.Rescaling,
                                                                keras.layers.Reshape))]
        else:
            entry["refused"] = refused
        recorded["models"][name] = entry
    args.out.write_text(json.dumps(recorded, indent=1) + "\n")
    print(f"wrote {args.out}: " + ", ".join(f"{n} ({m['params']:,})" for n, m in recorded["models"].items()))


if __name__ == "__main__":
    main()
