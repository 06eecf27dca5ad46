"""The reference RetinaNet: tf-models-official's (TFM) own pieces at a spinebench profile's proxy setting.

Backbone: TFM's SpineNet-49 (`official.vision.modeling.backbones.spinenet`, its published block specs); head: TFM's
`RetinaNetHead`; anchors: TFM's `Anchor`; targets: TFM's `AnchorLabeler` (IoU 0.5 / 0.5, each box also takes its
best anchor); losses: TFM's `FocalLoss` and Keras' `Huber`, combined and normalised as TFM's RetinaNet task does
(`official.vision.tasks.retinanet.build_losses`: sum over the batch / (positives + 1)); post-processing: TFM's
`MultilevelDetectionGenerator`. What this module adds of its own, and why, is listed in DEVIATIONS; the report
(results/fidelity.md) prints it.
"""
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from official.vision.losses import focal_loss  # noqa: E402
from official.vision.modeling.backbones import spinenet  # noqa: E402
from official.vision.modeling.heads import dense_prediction_heads  # noqa: E402
from official.vision.modeling.layers import detection_generator  # noqa: E402
from official.vision.ops import anchor as tfm_anchor  # noqa: E402

# Our anchor order within a location is scale-major over aspect ratios [1, 2, 0.5] (Sources/Detection/Anchors.swift);
# TFM's Anchor takes the ratios in the order given, so passing ours keeps one anchor index for both.
ASPECT_RATIOS = [1.0, 2.0, 0.5]
# Box channels per anchor: ours (dx, dy, dw, dh) (Sources/Detection/BoxCoder.swift), TFM's (dy, dx, dh, dw)
# (its FasterRcnnBoxCoder). TFM channel j of an anchor is our channel BOX_PERM[j].
BOX_PERM = [1, 0, 3, 2]

DEVIATIONS = [
    "Upsampling in SpineNet's cross-scale resampling: at 96 px the L6 map is 2x2 and the L5 map 3x3, and TFM "
    "upsamples by target_width // input_width = 1, so its SpineNet-49 cannot be built at 96 px at all (the sum "
    "of a 2x2 and a 3x3 map fails). The reference upsamples by 2^(level difference) and keeps the top-left "
    "target-size window, as spinebench does (Sources/Models/ScalePermuted.swift). Where sizes are powers of "
    "two the two rules agree; at 96 px they differ only on connections from L6 (2x2). (At 64 px, the smoke and search "
    "proxies' size, not this comparison's, TFM's SpineNet would differ once more: its L6 and L7 maps are both 1x1 and "
    "it skips the stride-2 conv between maps of equal size, which spinebench keeps.)",
    "Anchor centres on L6 and L7: TFM spreads the centres evenly (stride = image / feature size: 48 and 96 px "
    "at 96 px input), spinebench puts them at (i + 0.5) x 2^level (64 and 128 px). L3-L5 agree exactly. No box "
    "of this proxy reaches IoU 0.5 with an L6 or L7 anchor (docs/geometry.md §7), so only negatives differ.",
    "Loss normaliser: TFM divides by (positives in the batch + 1), spinebench by max(1, positives) "
    "(docs/paper-facts.md §8: 'divided by the number of positive anchors'); at ~100-300 positives per batch "
    "this scales the loss and every gradient by 0.3-1%.",
    "Class channels: spinebench's head has one sigmoid per class (K = 10); TFM's COCO setup numbers classes "
    "from 1 and keeps an always-negative channel 0. The reference uses K channels and our class ids (TFM's "
    "labeler marks negatives -1, a zero one-hot row either way); for TFM's detection generator, which drops "
    "channel 0 as background, a constant channel is prepended at inference only.",
    "Momentum: Keras' SGD keeps v = m v - lr g (the learning rate inside the momentum), spinebench v = m v + g "
    "and w -= lr v (Sources/Engine/SGD.swift). They differ only while the learning rate changes (warmup, the "
    "two decay steps).",
    "Step boundaries: TFM's piecewise-constant decay drops the rate after step b, spinebench at step b: one "
    "step apart at each decay point.",
    "Post-processing: TFM's MultilevelDetectionGenerator (v2 NMS, class-aware, top 5000 before NMS over all "
    "levels, score > 0.05, IoU 0.5, 100 per image); spinebench keeps the top 1000 per level before NMS. At "
    "96 px there are 1746 anchors per image, so the cap hardly binds either way.",
    "Initial weights: the same distributions (backbone: truncated-normal variance scaling, fan-in, scale 1; head: "
    "N(0, 0.01) tower convs, N(0, 1e-5) prediction convs, class bias -log(99); docs/paper-facts.md §2 and §8), "
    "but each implementation draws its own, so seed k is not the same weights on both sides (the first-step "
    "comparison carries ours over instead); the data order and augmentation of seed k are the same (spinedata.py "
    "repeats ours draw for draw). The comparison of AP is therefore unpaired.",
]


class _Upsample:
    """Stands in for TFM's spatial_transform_ops inside spinenet.py: nearest upsampling by the smallest power
    of two that reaches the target width, then the top-left target-size window (see DEVIATIONS[0])."""

    def __init__(self, ops):
        self._ops = ops
        self.target = None

    def nearest_upsampling(self, x, scale):
        width = int(x.shape[2])
        factor = 1
        while width * factor < self.target:
            factor *= 2
        y = self._ops.nearest_upsampling(x, scale=factor)
        return y[:, :self.target, :self.target, :]

    def __getattr__(self, name):
        return getattr(self._ops, name)


class ProxySpineNet(spinenet.SpineNet):
    """TFM's SpineNet with the upsampling rule of DEVIATIONS[0]; everything else is TFM's."""

    def _resample_with_alpha(self, inputs, input_width, input_block_fn, target_width, target_num_filters,
                             target_block_fn, alpha=0.5):
        spinenet.spatial_transform_ops.target = int(target_width)
        return super()._resample_with_alpha(inputs, input_width, input_block_fn, target_width, target_num_filters,
                                            target_block_fn, alpha)


if not isinstance(spinenet.spatial_transform_ops, _Upsample):
    spinenet.spatial_transform_ops = _Upsample(spinenet.spatial_transform_ops)

# Every conv and batch norm in the order they are constructed (backbone_layers).
_CREATED = []


def _recording(cls):
    init = cls.__init__

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        _CREATED.append(self)
    cls.__init__ = __init__


for _cls in (tf_keras.layers.Conv2D, tf_keras.layers.BatchNormalization):
    if not getattr(_cls, "_spinebench_recording", False):
        _recording(_cls)
        _cls._spinebench_recording = True


def set_threads(n):
    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(n)
    tf.config.optimizer.set_jit(False)


class Detector:
    """Backbone, head, anchors and labeler at one proxy setting (a profile's values)."""

    def __init__(self, input_size, scale, alpha, endpoints, head_filters, head_convs, num_classes, anchor_size,
                 bn_momentum=0.99, weight_decay=0.0):
        self.input_size, self.num_classes = input_size, num_classes
        reg = tf_keras.regularizers.l2(weight_decay / 2.0) if weight_decay else None   # TFM's task: l2(wd / 2)
        self.backbone = ProxySpineNet(
            input_specs=tf_keras.layers.InputSpec(shape=[None, input_size, input_size, 3]),
            min_level=3, max_level=7, block_specs=spinenet.build_block_specs(), endpoints_num_filters=endpoints,
            resample_alpha=alpha, block_repeats=1, filter_size_scale=scale, kernel_regularizer=reg,
            norm_momentum=bn_momentum, norm_epsilon=1e-3)
        self.head = dense_prediction_heads.RetinaNetHead(
            min_level=3, max_level=7, num_classes=num_classes, num_anchors_per_location=9, num_convs=head_convs,
            num_filters=head_filters, norm_momentum=bn_momentum, norm_epsilon=1e-3, kernel_regularizer=reg)
        self.anchors = tfm_anchor.Anchor(min_level=3, max_level=7, num_scales=3, aspect_ratios=ASPECT_RATIOS,
                                         anchor_size=anchor_size, image_size=[input_size, input_size]).multilevel_boxes
        self.labeler = tfm_anchor.AnchorLabeler(match_threshold=0.5, unmatched_threshold=0.5)
        self.generator = detection_generator.MultilevelDetectionGenerator(
            apply_nms=True, pre_nms_top_k=5000, pre_nms_score_threshold=0.05, nms_iou_threshold=0.5,
            max_num_detections=100, nms_version="v2", use_cpu_nms=True)
        self(tf.zeros([1, input_size, input_size, 3]), training=False)

    def __call__(self, images, training):
        cls, box = self.head(self.backbone(images, training=training), training=training)[:2]
        return cls, box

    @property
    def variables(self):
        return self.backbone.trainable_variables + self.head.trainable_variables

    @property
    def regularization(self):
        return tf.add_n(self.backbone.losses + self.head.losses)

    def targets(self, boxes, labels):
        """TFM's labeler on each image (boxes x1, y1, x2, y2 in input pixels; labels our class ids): per batch
        cls_targets [B, A] (class or -1), box_targets [B, A, 4] (dy, dx, dh, dw), cls_weights and box_weights [B, A]."""
        out = {k: [] for k in ("cls", "box", "cw", "bw")}
        for b, l in zip(boxes, labels):
            gt = tf.constant(np.asarray(b, np.float32).reshape(-1, 4)[:, [1, 0, 3, 2]])
            gl = tf.constant(np.asarray(l, np.int32).reshape(-1, 1))
            cls, box, _, cw, bw = self.labeler.label_anchors(self.anchors, gt, gl)
            out["cls"].append(tf.concat([tf.reshape(cls[k], [-1]) for k in cls], 0))
            out["box"].append(tf.concat([tf.reshape(box[k], [-1, 4]) for k in box], 0))
            out["cw"].append(cw)
            out["bw"].append(bw)
        return {k: tf.stack(v) for k, v in out.items()}

    def flatten(self, cls, box):
        b = tf.shape(cls["3"])[0]
        c = tf.concat([tf.reshape(cls[str(l)], [b, -1, self.num_classes]) for l in range(3, 8)], 1)
        x = tf.concat([tf.reshape(box[str(l)], [b, -1, 4]) for l in range(3, 8)], 1)
        return c, x

    def losses(self, cls, box, t, alpha, gamma, delta, normalizer=None):
        """TFM's RetinaNet loss (focal, Huber before the box weight); normalizer None is TFM's positives + 1."""
        y_cls, y_box = self.flatten(cls, box)
        dt = y_cls.dtype          # float32, or float64 in fidelity_step.py --float64
        cw, bw = tf.cast(t["cw"], dt), tf.cast(t["bw"], dt)
        n = tf.reduce_sum(bw) + 1.0 if normalizer is None else normalizer
        focal = focal_loss.FocalLoss(alpha=alpha, gamma=gamma, reduction=tf_keras.losses.Reduction.SUM)(
            y_true=tf.one_hot(tf.cast(t["cls"], tf.int32), self.num_classes, dtype=dt), y_pred=y_cls,
            sample_weight=cw / n)
        huber = tf_keras.losses.Huber(delta, reduction=tf_keras.losses.Reduction.SUM)(
            y_true=tf.cast(t["box"], dt), y_pred=y_box, sample_weight=bw / n)
        return focal, huber

    def detect(self, cls, box):
        """Detections per image: boxes (x1, y1, x2, y2 in input pixels), scores, classes (our ids)."""
        yxyx, scores, classes, num = (v.numpy() for v in self.detect_graph(cls, box))
        return yxyx[..., [1, 0, 3, 2]], scores, classes.astype(np.int64) - 1, num

    def detect_graph(self, cls, box):
        """TFM's detection generator on the head outputs: boxes (y1, x1, y2, x2), scores, classes (TFM's ids: ours
        + 1, channel 0 being the prepended background), counts; tensors, so a tf.function can hold it."""
        b = tf.shape(cls["3"])[0]
        scores, boxes, anchors = {}, {}, {}
        for l in range(3, 8):
            k = str(l)
            shape = tf.shape(cls[k])
            logits = tf.reshape(cls[k], [b, shape[1], shape[2], 9, self.num_classes])
            pad = tf.fill([b, shape[1], shape[2], 9, 1], -30.0)    # the channel TFM drops as background
            scores[k] = tf.reshape(tf.concat([pad, logits], -1), [b, shape[1], shape[2], 9 * (self.num_classes + 1)])
            boxes[k] = box[k]
            anchors[k] = tf.tile(self.anchors[k][None], [b, 1, 1, 1])
        image_shape = tf.tile(tf.constant([[self.input_size, self.input_size]], tf.float32), [b, 1])
        out = self.generator(boxes, scores, anchors, image_shape)
        return out["detection_boxes"], out["detection_scores"], out["detection_classes"], out["num_detections"]


class SpinebenchSGD:
    """spinebench's optimiser step on TFM's variables (Sources/Engine/SGD.swift): the gradient (weight decay
    included, as TFM's l2 regulariser adds it) clipped by its global norm, then v = m v + g and w -= lr v, where
    Keras' SGD keeps v = m v - lr g (DEVIATIONS 5). Used by `train_reference.py --conventions spinebench` and
    fidelity_trajectory.py."""

    def __init__(self, variables, momentum, clip_norm):
        self.variables, self.momentum, self.clip_norm = variables, momentum, clip_norm
        self.velocity = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]

    def apply(self, grads, rate):
        """One update at learning rate `rate`; returns the global gradient norm before clipping."""
        if self.clip_norm:
            grads, norm = tf.clip_by_global_norm(grads, self.clip_norm)
        else:
            norm = tf.linalg.global_norm(grads)
        for v, g, buf in zip(self.variables, grads, self.velocity):
            buf.assign(self.momentum * buf + g)
            v.assign_sub(rate * buf)
        return norm


def backbone_layers(backbone):
    """TFM's backbone convs and batch norms in the order they were made, which is the order spinebench's plan
    lists them in (stem; per block its inputs' resampling, then its units, shortcut first; endpoints). Keras
    gives nested layers no unique names, so the order comes from _CREATED."""
    mine = {id(m) for m in backbone.submodules}
    made = [m for m in _CREATED if id(m) in mine]
    return ([m for m in made if isinstance(m, tf_keras.layers.Conv2D)],
            [m for m in made if isinstance(m, tf_keras.layers.BatchNormalization)])


def head_layer(head, name):
    for m in head.submodules:
        if m.name == name:
            return m
    raise KeyError(name)


def weight_map(det, order, head_convs):
    """Pairs every spinebench parameter name (plan order) with the TFM variable that plays its part.
    Returns [(our name, tf variable, kind)], kind 'box' for the box predictor (channels permuted)."""
    ours_convs = [n for n in order if n.endswith("/kernel") and not n.startswith("head/")]
    convs, norms = backbone_layers(det.backbone)
    if len(convs) != len(ours_convs) or len(norms) != len(ours_convs):
        raise ValueError(f"backbone layers differ: ours {len(ours_convs)} convs, TFM {len(convs)} convs and "
                         f"{len(norms)} norms")
    pairs = []
    for name, conv, norm in zip(ours_convs, convs, norms):
        unit = name[:-len("/conv/kernel")]
        pairs += [(name, conv.kernel, "w"), (unit + "/bn/gamma", norm.gamma, "w"), (unit + "/bn/beta", norm.beta, "w")]
    for ours, theirs in (("class", "classnet"), ("box", "boxnet")):
        for i in range(head_convs):
            conv = head_layer(det.head, f"{theirs}-conv_{i}")
            pairs += [(f"head/{ours}/conv{i}/kernel", conv.kernel, "w"), (f"head/{ours}/conv{i}/bias", conv.bias, "w")]
            for l in range(3, 8):
                norm = head_layer(det.head, f"{theirs}-conv-norm_{l}_{i}")
                pairs += [(f"head/{ours}/conv{i}/bn/l{l}/gamma", norm.gamma, "w"),
                          (f"head/{ours}/conv{i}/bn/l{l}/beta", norm.beta, "w")]
        pred = head_layer(det.head, "scores" if ours == "class" else "boxes")
        kind = "box" if ours == "box" else "w"
        pairs += [(f"head/{ours}/predict/kernel", pred.kernel, kind), (f"head/{ours}/predict/bias", pred.bias, kind)]
    missing = set(order) - {p[0] for p in pairs}
    if missing:
        raise ValueError(f"ours without a TFM counterpart: {sorted(missing)[:5]}")
    return pairs


def box_index(channels):
    """For the box predictor: TFM channel c reads our channel box_index[c]."""
    return np.array([(c // 4) * 4 + BOX_PERM[c % 4] for c in range(channels)])


def moving_pairs(det, order):
    """(our batch-norm name, TFM BatchNormalization layer) for every batch norm."""
    ours = [n[:-len("/gamma")] for n in order if n.endswith("/gamma")]
    _, norms = backbone_layers(det.backbone)
    layers = list(norms)
    head = {}
    for ours_sub, theirs in (("class", "classnet"), ("box", "boxnet")):
        for m in det.head.submodules:
            if isinstance(m, tf_keras.layers.BatchNormalization) and m.name.startswith(theirs + "-conv-norm_"):
                level, i = m.name.rsplit("_", 2)[-2:]
                head[f"head/{ours_sub}/conv{i}/bn/l{level}"] = m
    backbone_names = [n for n in ours if not n.startswith("head/")]
    return list(zip(backbone_names, layers)) + [(n, head[n]) for n in ours if n.startswith("head/")]


def load_ours(det, params, moving, order, head_convs):
    """Sets TFM's variables from spinebench's (params / moving: name -> numpy array)."""
    for name, var, kind in weight_map(det, order, head_convs):
        v = params[name]
        if kind == "box":
            v = v[..., box_index(v.shape[-1])]
        if tuple(var.shape) != v.shape:
            raise ValueError(f"{name}: ours {v.shape}, TFM {var.name} {tuple(var.shape)}")
        var.assign(v)
    for name, layer in moving_pairs(det, order):
        layer.moving_mean.assign(moving[name + ":mean"])
        layer.moving_variance.assign(moving[name + ":variance"])


def first_step_weights(f):
    """(order, params, moving) from an open file of `spinebench first-step` (Sources/Harness/FirstStepExport.swift:
    /params/NAME with ':' for '/', attribute `order`; /moving/NAME:mean|variance), keyed as load_ours takes them."""
    order = [n.decode() if isinstance(n, bytes) else str(n) for n in f["params"].attrs["order"]]
    params = {n: f["params"][n.replace("/", ":")][...] for n in order}
    moving = {k.replace(":", "/").rsplit("/", 1)[0] + ":" + k.rsplit(":", 1)[1]: f["moving"][k][...]
              for k in f["moving"]}
    return order, params, moving


def load_first_step(det, path, head_convs):
    """Sets TFM's variables from the initial weights in a file of `spinebench first-step`."""
    import h5py
    with h5py.File(path, "r") as f:
        order, params, moving = first_step_weights(f)
    load_ours(det, params, moving, order, head_convs)


def schedule(base, total, warmup_fraction, warmup_start, decay_points):
    """The profile's learning rate through TFM's own pieces: TFM's LinearWarmup into a piecewise-constant decay
    (x0.1 at each decay point)."""
    from official.modeling.optimization import lr_schedule
    boundaries = [int(f * total) for f in decay_points]
    values = [base * 0.1 ** i for i in range(len(boundaries) + 1)]
    decay = tf_keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    return lr_schedule.LinearWarmup(decay, int(warmup_fraction * total), base * warmup_start)


def ceil_div(a, b):
    return int(math.ceil(a / b))
