"""Reference params and multiply-adds of whole RetinaNet detectors built by tf-models-official (TFM).

The figures `spinebench describe MODEL` must match (docs/paper-facts.md §9, Tests/ModelsTests/PaperCountsTests.swift),
counted the way the project counts (docs/paper-facts.md §9): the complete detector of TFM's factory
(`official.vision.modeling.factory.build_retinanet`: backbone, decoder, RetinaNet head) at batch 1, up to but not
including box decoding and NMS; 91 classes, 9 anchors (3 scales x 3 aspect ratios), levels L3-L7, the paper's head
(4 convs of 256 filters; 128 for SpineNet-49S).

- params: every trainable variable (conv kernels and biases, BN gamma and beta); BN moving statistics are not
  trainable and are left out;
- multiply-adds: every Conv2D call of one forward pass on a [1, N, N, 3] image, out_h x out_w x k_h x k_w x c_in x
  c_out / groups, recorded by wrapping Conv2D.call (shared head convs count once per level they run on). The
  model has no other layer with multiplications that the count includes (no Dense).

Usage (in the pinned environment of `make .venv-tf/ok`):
  .venv-tf/bin/python bench/tensorflow/counts.py r101-fpn r152-fpn --input 640
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from official.vision.configs import backbones, decoders  # noqa: E402
from official.vision.configs import retinanet as retinanet_cfg  # noqa: E402
from official.vision.modeling import factory  # noqa: E402
from official.vision.modeling.backbones import spinenet  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
MACS = []
_conv_call = tf_keras.layers.Conv2D.call


def _counting_call(self, inputs):   # Conv.call's own signature, so Keras passes no `training`
    out = _conv_call(self, inputs)
    kh, kw, cin_per_group, cout = self.kernel.shape
    _, h, w, c = out.shape
    MACS.append(int(h) * int(w) * int(kh) * int(kw) * int(cin_per_group) * int(c))
    return out


tf_keras.layers.Conv2D.call = _counting_call


def config(model):
    """The TFM RetinaNet config of one of our model names (the paper's settings)."""
    head_filters = 256
    if model.endswith("-fpn"):
        depth = int(model[1:].split("-")[0])
        backbone = backbones.Backbone(type="resnet", resnet=backbones.ResNet(model_id=depth))
        decoder = decoders.Decoder(type="fpn", fpn=decoders.FPN(num_filters=256))
    else:
        model_id = model.split("-")[1]           # 49S, 49, 96, 143, 190
        backbone = backbones.Backbone(type="spinenet", spinenet=backbones.SpineNet(model_id=model_id.upper()))
        decoder = decoders.Decoder(type="identity")
        head_filters = {"49S": 128, "190": 512}.get(model_id.upper(), 256)
    return retinanet_cfg.RetinaNet(
        num_classes=91, min_level=3, max_level=7,
        anchor=retinanet_cfg.Anchor(num_scales=3, aspect_ratios=[0.5, 1.0, 2.0]),
        backbone=backbone, decoder=decoder,
        head=retinanet_cfg.RetinaNetHead(num_convs=7 if model.endswith("190") else 4, num_filters=head_filters))


def count(model, size):
    cfg = config(model)
    if "49s" in model:
        # The project's SpineNet-49S has 256 endpoint filters, not TFM's 128 (docs/paper-facts.md §4).
        spinenet.SCALING_MAP["49S"]["endpoints_num_filters"] = 256
    input_specs = tf_keras.layers.InputSpec(shape=[None, size, size, 3])
    detector = factory.build_retinanet(input_specs=input_specs, model_config=cfg)
    image = tf.zeros([1, size, size, 3])
    MACS.clear()
    features = detector.backbone(image, training=False)
    if detector.decoder is not None:
        features = detector.decoder(features, training=False)
    detector.head(features, training=False)
    macs = sum(MACS)
    params = sum(int(tf.size(v)) for v in detector.trainable_variables)
    backbone_params = sum(int(tf.size(v)) for v in detector.backbone.trainable_variables)
    return params, macs, backbone_params


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="r50-fpn, r101-fpn, r152-fpn, spinenet-49s, spinenet-49, ...")
    p.add_argument("--input", type=int, default=640)
    a = p.parse_args()
    from importlib.metadata import version
    print(f"tensorflow {tf.__version__}, tf-models-official {version('tf-models-official')}, input {a.input}, "
          f"91 classes, 9 anchors, L3-L7")
    for model in a.models:
        params, macs, backbone_params = count(model, a.input)
        print(f"{model}: params {params} ({params / 1e6:.2f}M, backbone {backbone_params / 1e6:.2f}M)  "
              f"multiply-adds {macs} ({macs / 1e9:.2f}B)")


if __name__ == "__main__":
    main()
