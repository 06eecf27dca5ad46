"""The reference trainer: one run of a spinebench profile trained by tf-models-official's own pieces (issue #21).

SpineNet-49 and the RetinaNet head, anchors, labeler, focal and Huber losses and detection generator of
tf-models-official (tfm_retinanet.py), TFM's LinearWarmup into a piecewise-constant decay, and Keras' SGD with
momentum and a global-norm clip, with the profile's settings read from the ablation file (the same YAML spinebench
reads). The data are our HDF5 files in our order with our augmentation (spinedata.py, draw for draw the loader of
seed k). Evaluation: the val split in file order at the profile's batch size, batch norm as the profile says
(`eval_batch_norm: batch` uses each batch's statistics, docs/geometry.md §11).

Seeded with tf_keras.utils.set_random_seed: at one thread a seed's run repeats bit for bit (the smoke profile's
loss curve, run twice). Its initial weights are TFM's own draws, not spinebench's of the same seed.

Two options pair a reference run with one of ours (the diagnosis of a difference, results/fidelity.md):
- `--init STEP.h5` starts from the weights in a file of `spinebench first-step` (our initial weights of that
  seed) instead of TFM's own draws, so a run and ours of the same seed share weights and data order;
- `--conventions spinebench` replaces the three recipe conventions where TFM and spinebench differ (DEVIATIONS 3,
  5 and 6 of tfm_retinanet.py) by ours: the loss divided by max(1, positives), momentum as v = m v + g,
  w -= lr v, and each learning-rate drop at its boundary step rather than after it.

Writes:
- --record (JSON): AP per COCO metric (pycocotools, with the size classes scaled by (anchor_size / 3)^2 as
  spinebench's evaluator does), the loss curve (mean total loss per quarter epoch, as spinebench's records),
  wall-clock times, seed, settings, versions;
- into --out-dir, `val-ground-truth.json` and `val-detections.json`: COCO annotation and results files, which
  `spinebench coco-eval --area-scale F` re-scores (the record names the folder).

Usage (the pinned environment of `make .venv-tf/ok`):
  .venv-tf/bin/python bench/tensorflow/train_reference.py --ablation ablations/fidelity.yaml --profile fidelity \\
      --seed 0 --dataset data/FILE.h5 --out-dir runs/fidelity-reference/fidelity/seed-0 \\
      --record results/fidelity/reference/fidelity/seed-0.json
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spinedata  # noqa: E402
import tfm_retinanet as ref  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

METRICS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def write_json(path, obj):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def ground_truth(split):
    """COCO annotations of a split as spinebench writes them (Sources/Detection/CocoFormat.swift): image i has
    id i + 1, annotation ids 1, 2, ..., category id = our label, bbox x, y, w, h in stored-image pixels."""
    images, anns = [], []
    for i in range(split.count):
        images.append({"id": i + 1, "width": int(split.width), "height": int(split.height), "file_name": ""})
        b, l = split.boxes_of(i)
        for box, label in zip(b, l):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(label),
                         "bbox": [float(box[0]), float(box[1]), w, h], "area": w * h, "iscrowd": 0})
    cats = [{"id": i, "name": n} for i, n in enumerate(split.class_names)]
    return {"images": images, "annotations": anns, "categories": cats}


def coco_metrics(gt_path, det_path, area_scale):
    """The 12 COCO box metrics in percent from pycocotools, size classes scaled as spinebench's evaluator."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        with open(det_path) as f:
            dets = json.load(f)
        if not dets:
            return {m: 0.0 for m in METRICS}
        dt = gt.loadRes(dets)
        e = COCOeval(gt, dt, "bbox")
        s, m = 32 ** 2 * area_scale, 96 ** 2 * area_scale
        e.params.areaRng = [[0, 1e10], [0, s], [s, m], [m, 1e10]]
        e.evaluate()
        e.accumulate()
        e.summarize()
    return {k: max(0.0, float(v)) * 100 for k, v in zip(METRICS, e.stats)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ablation", default="ablations/fidelity.yaml")
    p.add_argument("--profile", default="fidelity")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", required=True, help="the HDF5 file spinebench trains the profile on")
    p.add_argument("--out-dir", required=True, help="folder for the COCO files")
    p.add_argument("--record", required=True, help="the run's record (JSON)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--init", help="start from the weights of this `spinebench first-step` file")
    p.add_argument("--conventions", choices=["tfm", "spinebench"], default="tfm",
                   help="normaliser, momentum form and decay boundaries: TFM's (default) or spinebench's")
    a = p.parse_args()
    with open(a.ablation) as f:
        prof = yaml.safe_load(f)["profiles"][a.profile]
    ref.set_threads(a.threads)
    os.makedirs(a.out_dir, exist_ok=True)
    # Python's, numpy's and TF's generators: Keras draws an unseeded initializer's seed from Python's `random`,
    # so tf.random.set_seed alone leaves the initial weights different in every process.
    tf_keras.utils.set_random_seed(a.seed)

    train = spinedata.Split(a.dataset, "train")
    val = spinedata.Split(a.dataset, "val")
    k = len(train.class_names)
    loader = spinedata.Loader(train, prof["batch"], prof["input"], True, a.seed, tuple(prof["scale_jitter"]),
                              prof["flip_probability"])
    det = ref.Detector(prof["input"], prof["scale"], prof["alpha"], prof["endpoints"], prof["head_filters"],
                       prof["head_convs"], k, prof["anchor_size"], bn_momentum=prof["bn_momentum"],
                       weight_decay=prof["weight_decay"])
    if a.init:
        ref.load_first_step(det, a.init, prof["head_convs"])
    steps_per_epoch = loader.batches_per_epoch
    total = steps_per_epoch * prof["epochs"]
    if prof["schedule"] != "step":
        raise SystemExit("train_reference.py: only the step schedule is implemented")
    lr = ref.schedule(prof["learning_rate"], total, prof["warmup_fraction"], prof["warmup_start"], prof["decay_points"])
    opt = tf_keras.optimizers.SGD(learning_rate=lr, momentum=prof["momentum"], global_clipnorm=prof["clip_norm"])
    variables = det.variables
    alpha, gamma, delta, w_box = prof["focal_alpha"], prof["focal_gamma"], prof["huber_delta"], prof["box_weight"]
    ours = a.conventions == "spinebench"
    if ours:
        our_sgd = ref.SpinebenchSGD(variables, prof["momentum"], prof["clip_norm"])
        warmup, start = int(prof["warmup_fraction"] * total), prof["warmup_start"]
        boundaries = [int(f * total) for f in prof["decay_points"]]

        def our_rate(i):
            """Sources/Engine/SGD.swift's LearningRateSchedule.rate(at:), step schedule."""
            base = prof["learning_rate"]
            if i < warmup:
                return base * (start + (1 - start) * i / warmup)
            return base * 0.1 ** sum(i >= b for b in boundaries)

    @tf.function(jit_compile=False, reduce_retracing=True)
    def label(gt, gl):
        cls, box, _, cw, bw = det.labeler.label_anchors(det.anchors, gt, gl)
        return (tf.concat([tf.reshape(cls[k], [-1]) for k in cls], 0),
                tf.concat([tf.reshape(box[k], [-1, 4]) for k in box], 0), cw, bw)

    def targets(boxes, labels):
        parts = [label(tf.constant(np.asarray(b, np.float32).reshape(-1, 4)[:, [1, 0, 3, 2]]),
                       tf.constant(np.asarray(l, np.int32).reshape(-1, 1))) for b, l in zip(boxes, labels)]
        return {key: tf.stack([q[i] for q in parts]) for i, key in enumerate(("cls", "box", "cw", "bw"))}

    @tf.function(jit_compile=False)
    def step(images, t):
        with tf.GradientTape() as tape:
            cls, box = det(images, training=True)
            focal, huber = det.losses(cls, box, t, alpha, gamma, delta)
            model_loss = focal + w_box * huber
            loss = model_loss + det.regularization
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))
        return model_loss

    @tf.function(jit_compile=False)
    def step_ours(images, t, rate):
        """The same step under spinebench's conventions (Sources/Engine/SGD.swift)."""
        with tf.GradientTape() as tape:
            cls, box = det(images, training=True)
            n = tf.maximum(tf.reduce_sum(tf.cast(t["bw"], tf.float32)), 1.0)
            focal, huber = det.losses(cls, box, t, alpha, gamma, delta, normalizer=n)
            model_loss = focal + w_box * huber
            loss = model_loss + det.regularization
        our_sgd.apply(tape.gradient(loss, variables), rate)
        return model_loss

    window = max(1, steps_per_epoch // 4)
    curve, data_seconds, step_seconds = [], 0.0, []
    started = time.time()
    for epoch in range(prof["epochs"]):
        acc, n, epoch_sum = 0.0, 0, 0.0
        for b in range(steps_per_epoch):
            t0 = time.time()
            images, boxes, labels, _, _ = loader.make_batch(epoch, b)
            t = targets(boxes, labels)
            data_seconds += time.time() - t0
            t1 = time.time()
            if ours:
                rate = tf.constant(our_rate(epoch * steps_per_epoch + b), tf.float32)
                value = float(step_ours(tf.constant(images), t, rate))
            else:
                value = float(step(tf.constant(images), t))
            step_seconds.append(time.time() - t1)
            if not np.isfinite(value) or value > 1e4:
                raise SystemExit(f"train_reference.py: loss {value} at step {epoch * steps_per_epoch + b}")
            acc += value
            epoch_sum += value
            n += 1
            if n == window or b == steps_per_epoch - 1:
                curve.append(acc / n)
                acc, n = 0.0, 0
        print(f"reference seed {a.seed}: epoch {epoch + 1}/{prof['epochs']} mean loss {epoch_sum / steps_per_epoch:.4f} "
              f"({time.time() - started:.0f} s)", flush=True)
    train_seconds = time.time() - started

    # Evaluation on the val split, file order, the profile's batch size.
    t0 = time.time()
    batch_stats = prof.get("eval_batch_norm", "batch") == "batch"
    vloader = spinedata.Loader(val, prof["batch"], prof["input"], False, a.seed)

    @tf.function(jit_compile=False)
    def infer(images):
        cls, box = det(images, training=batch_stats)
        return det.detect_graph(cls, box)

    dets = []
    for b in range(vloader.batches_per_epoch):
        images, _, _, ids, transforms = vloader.make_batch(0, b)
        bx, sc, cl, num = (v.numpy() for v in infer(tf.constant(images)))
        bx, cl = bx[..., [1, 0, 3, 2]], cl.astype(np.int64) - 1
        for j, (i, (scale, ox, oy, _)) in enumerate(zip(ids, transforms)):
            for d in range(int(num[j])):
                x1, y1, x2, y2 = ((bx[j, d] - [ox, oy, ox, oy]) / scale).tolist()
                dets.append({"image_id": int(i) + 1, "category_id": int(cl[j, d]),
                             "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(sc[j, d])})
    gt_path, det_path = os.path.join(a.out_dir, "val-ground-truth.json"), os.path.join(a.out_dir, "val-detections.json")
    write_json(gt_path, ground_truth(val))
    write_json(det_path, dets)
    area_scale = (prof["anchor_size"] / 3) ** 2
    metrics = coco_metrics(gt_path, det_path, area_scale)
    eval_seconds = time.time() - t0
    import official
    record = {
        "implementation": "reference (tf-models-official)", "model": "spinenet-49", "profile": a.profile,
        "ablation": a.ablation, "seed": a.seed, "metrics": metrics, "metrics_source": "pycocotools",
        "areaScale": area_scale,
        "training": {"epochs": prof["epochs"], "steps": total, "batch": prof["batch"], "input": prof["input"],
                     "trainImages": train.count, "valImages": val.count, "lossCurve": curve, "lossWindow": window,
                     "lossNormalizer": "max(1, positives)" if ours else "positives + 1 (TFM)"},
        "conventions": a.conventions, "initialWeights": os.path.abspath(a.init) if a.init else "TFM's own draws",
        "measured": {"trainSeconds": train_seconds, "evalSeconds": eval_seconds, "dataSeconds": data_seconds,
                     "trainImagesPerSecond": total * prof["batch"] / train_seconds, "threads": a.threads,
                     "medianStepSeconds": float(np.median(step_seconds[1:] or step_seconds))},
        "params": int(sum(int(v.shape.num_elements()) for v in variables)),
        "versions": {"tensorflow": tf.__version__, "tf_keras": tf_keras.__version__,
                     "tf_models_official": getattr(official, "__version__", "2.20.0 (pinned)")},
        "profileSettings": prof, "dataset": os.path.abspath(a.dataset), "runDir": a.out_dir,
        "deviations": ref.DEVIATIONS,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.record)), exist_ok=True)
    write_json(a.record, record)
    print(f"reference seed {a.seed}: AP {metrics['AP']:.2f} AP50 {metrics['AP50']:.2f} in "
          f"{train_seconds / 60:.1f} + {eval_seconds / 60:.1f} min -> {a.record}", flush=True)


if __name__ == "__main__":
    main()
