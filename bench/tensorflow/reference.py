"""TensorFlow reference for `spinebench bench train`: the same training step on tf-models-official's SpineNet.

Times forward + backward + SGD-momentum update of SpineNet-49 (TFM's block list) at a given width, resampling
alpha, endpoint filters, input size and batch, on synthetic data, with the given number of intra- and inter-op threads (2) and XLA off, and prints
one line in the format `spinebench bench train` uses (median step, images/s, params, peak RSS) so the two can be
read side by side. `make bench-tf` makes the virtualenv and runs both.
"""
import argparse
import os
import resource
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from official.vision.modeling.backbones import spinenet  # noqa: E402
from official.vision.modeling.heads import dense_prediction_heads  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale", type=float, default=0.25)
    p.add_argument("--alpha", type=float, default=0.25)
    p.add_argument("--endpoints", type=int, default=64)
    p.add_argument("--input", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--head", choices=["none", "retinanet"], default="none")
    p.add_argument("--head-filters", type=int, default=64)
    p.add_argument("--head-convs", type=int, default=4)
    p.add_argument("--classes", type=int, default=91)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    tf.config.optimizer.set_jit(False)
    tf.random.set_seed(0)

    backbone = spinenet.SpineNet(
        input_specs=tf_keras.layers.InputSpec(shape=[None, a.input, a.input, 3]),
        min_level=3, max_level=7, block_specs=spinenet.build_block_specs(),
        endpoints_num_filters=a.endpoints, resample_alpha=a.alpha, block_repeats=1,
        filter_size_scale=a.scale)
    anchors = 9
    head = None
    if a.head == "retinanet":
        head = dense_prediction_heads.RetinaNetHead(
            min_level=3, max_level=7, num_classes=a.classes, num_anchors_per_location=anchors,
            num_convs=a.head_convs, num_filters=a.head_filters)
    images = tf.random.normal([a.batch, a.input, a.input, 3], seed=1)
    opt = tf_keras.optimizers.SGD(learning_rate=1e-3, momentum=0.9)

    # Synthetic targets with the same shapes as the head's outputs: ~1% positives.
    def targets(shape, seed):
        return tf.cast(tf.random.uniform(shape, seed=seed) < 0.01, tf.float32)

    levels = range(3, 8)
    if head is not None:
        sizes = {l: -(-a.input // 2 ** l) for l in levels}
        cls_t = {l: targets([a.batch, sizes[l], sizes[l], anchors * a.classes], l) for l in levels}
        box_t = {l: tf.random.normal([a.batch, sizes[l], sizes[l], anchors * 4], seed=10 + l) for l in levels}

    def loss_fn(feats):
        if head is None:
            return tf.add_n([tf.reduce_mean(feats[str(l)]) for l in levels])
        cls, box = head(feats, training=True)[:2]
        total = 0.0
        for l in levels:
            t, logit = cls_t[l], cls[str(l)]
            prob = tf.sigmoid(logit)
            ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=logit)
            pt = t * prob + (1 - t) * (1 - prob)
            w = t * 0.25 + (1 - t) * 0.75
            total += tf.reduce_sum(w * tf.pow(1 - pt, 1.5) * ce)
            total += 50 * tf.reduce_sum(tf.keras.losses.Huber(delta=0.1, reduction="none")(
                box_t[l][..., None], box[str(l)][..., None]))
        return total / 100.0

    variables = None

    @tf.function(jit_compile=False)
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(backbone(images, training=True))
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))
        return loss

    backbone(images, training=False)
    if head is not None:
        loss_fn(backbone(images, training=False))
    variables = backbone.trainable_variables + (head.trainable_variables if head is not None else [])
    params = sum(int(tf.size(v)) for v in backbone.weights + (head.weights if head is not None else [])
                 if "moving" not in v.name)
    for _ in range(2):
        step().numpy()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step().numpy()
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"tensorflow {tf.__version__} spinenet-49 scale {a.scale} alpha {a.alpha} endpoints {a.endpoints} "
          f"input {a.input} batch {a.batch} head {a.head} threads {a.threads}")
    print(f"params {params / 1e6:.3f}M  median step {median * 1000:.1f} ms  {a.batch / median:.1f} images/s  "
          f"peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
