"""`keras-mot train` (its `train` function) on JAX, one device or `jax_data_parallel` over all.

Run by `test_distribution.py` with `XLA_FLAGS=--xla_force_host_platform_device_count=2`: trains
the CPU MobileNetV2 QAT config with a small backbone (conv, depthwise conv, BatchNormalization,
ReLU6; registered here so that JAX compiles in seconds) a few float and QAT steps, exports it, and prints as JSON the
device count, whether the export passed, the error for a batch the devices do not divide,
and every variable of the saved QAT checkpoint.

Example:
    XLA_FLAGS=--xla_force_host_platform_device_count=2 KERAS_BACKEND=jax \
        python tests/backends/run_train_data_parallel.py parallel /tmp/run
"""

import json
import os
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, "model_garden_configs", "mobilenetv2_qat_cpu.yaml")
OVERRIDES = [
    "task.model.backbone.mobilenet.model_id=TinyTestNet",
    "task.model.input_size=[16,16,3]",
    "keras_mot.float_train_steps=3",
    "trainer.train_steps=3",
    "trainer.steps_per_loop=1",
    "task.train_data.global_batch_size=8",
    # SGD: Adam divides by the root of tiny second moments, which turns the last-bit differences
    # of a reordered sum into learning-rate-sized steps on weights whose gradient is ~0.
    "trainer.optimizer_config.optimizer.type=sgd",
    "trainer.optimizer_config.learning_rate.constant.learning_rate=0.01",
    "keras_mot.float_learning_rate=0.05",
    "keras_mot.representative_examples=16",
    "keras_mot.export_formats=[tflite]",
]


def _tiny_backbone(input_size, block, cfg):
    import keras

    inputs = keras.Input(tuple(input_size))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem")(inputs)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    x = keras.layers.BatchNormalization(name="dw_bn")(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.Conv2D(16, 1, use_bias=False, name="pw")(x)
    x = keras.layers.BatchNormalization(name="pw_bn")(x)
    x = keras.layers.ReLU(6.0)(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))


def main(devices, out):
    import keras
    import run_core

    from keras_mot.errors import KerasMotError
    from keras_mot.garden.builders import register_builder
    from keras_mot.garden.distribution import build_strategy
    from keras_mot.garden.trainer import train

    register_builder("mobilenet", "TinyTestNet")(_tiny_backbone)

    refused = None
    try:  # a batch of 7 does not split over 2 devices
        build_strategy("jax_data_parallel", global_batch_size=7)
    except KerasMotError as err:
        refused = str(err)
    strategy = "jax_data_parallel" if devices == "parallel" else "one_device"
    result = train(
        CONFIG,
        out=out,
        overrides=OVERRIDES + [f"runtime.distribution_strategy={strategy}"],
        verbose=0,
        lint="off",
        reference=False,
        max_examples=64,
        export_targets=["tflite_int8"],
    )
    export = result.exports["tflite_int8"]
    saved = keras.saving.load_model(os.path.join(out, "checkpoints", "qat.keras"), safe_mode=True)
    print(
        json.dumps(
            {
                "devices": len(keras.distribution.list_devices()) if devices == "parallel" else 1,
                "export_ok": bool(export.ok),
                "agreement": export.parity.agreement,
                "float_ops": export.float_compute_ops,
                "refused": refused,
                "trained": run_core._arrays(saved),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
