"""The first training step on the same initial weights: spinebench's against the reference's (issue #21).

Reads the file `spinebench first-step` writes (our initial weights, moving statistics, the first augmented batch,
our targets, our loss and gradients; Sources/Harness/FirstStepExport.swift), loads the weights into the reference
detector (tfm_retinanet.py: TFM's SpineNet-49, RetinaNet head, anchors, labeler and losses), repeats the step, and
writes a JSON comparison:

- the batch: our loader's images and boxes against spinedata.py's port of it (the reference trainer's data);
- the initial weights: per tensor, the standard deviation of ours over that of TFM's own draw (same distributions?),
  and any constant tensor (batch-norm scales and offsets, biases) that differs;
- the targets: our anchor classes and box targets against TFM's labeler's;
- the loss (total, focal, Huber) and the gradient norm, with TFM's normaliser (positives + 1) and with ours
  (max(1, positives)), the relative difference of each to ours;
- per-tensor gradient differences, the largest first;
- after one update by TFM's optimiser (on the gradients under our normaliser, at our first learning rate), the
  loss of the second batch against ours after our update: the optimiser, weight decay and clipping.

Usage (the pinned environment of `make .venv-tf/ok`):
  .venv-tf/bin/python bench/tensorflow/fidelity_step.py STEP.h5 --out results/fidelity-step.json
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spinedata  # noqa: E402
import tfm_retinanet as ref  # noqa: E402
import tensorflow as tf  # noqa: E402


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-30)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", help="the HDF5 file of `spinebench first-step`")
    p.add_argument("--out", required=True, help="JSON comparison to write")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--float64", action="store_true",
                   help="run the reference in double precision (how much of a difference is float32 rounding)")
    a = p.parse_args()
    ref.set_threads(a.threads)
    if a.float64:
        import tf_keras
        tf_keras.backend.set_floatx("float64")

    with h5py.File(a.step, "r") as f:
        at = dict(f.attrs)
        order, params, moving = ref.first_step_weights(f)
        grads = {n: f["grads"][n.replace("/", ":")][...] for n in order}
        images = f["batch/images"][...]
        boxes_flat, labels_flat = f["batch/boxes"][...], f["batch/labels"][...]
        offsets, ids = f["batch/box_offsets"][...], f["batch/image_ids"][...]
        our_cls, our_box = f["targets/anchor_classes"][...], f["targets/box_targets"][...]
        our_anchors = f["anchors"][...]
    boxes = [boxes_flat[offsets[i]:offsets[i + 1]] for i in range(len(ids))]
    labels = [labels_flat[offsets[i]:offsets[i + 1]] for i in range(len(ids))]
    n_img = len(ids)
    dataset = at["dataset"].decode() if isinstance(at["dataset"], bytes) else str(at["dataset"])
    text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
    out = {"model": text(at["model"]), "profile": text(at["profile"]), "seed": int(at["seed"]), "batch": n_img,
           "dataset": dataset, "reference_precision": "float64" if a.float64 else "float32",
           "weights": text(at["weights"]) if "weights" in at else "initial"}

    # 1. Our batch, made again by the reference trainer's loader (spinedata.py).
    if os.path.exists(dataset):
        split = spinedata.Split(dataset, "train")
        loader = spinedata.Loader(split, n_img, int(at["input"]), True, int(at["seed"]))
        im2, b2, l2, ids2, _ = loader.make_batch(0, 0)
        out["loader"] = {
            "same_ids": [int(i) for i in ids2] == [int(i) for i in ids],
            "max_abs_pixel_difference": float(np.abs(im2 - images).max()),
            "max_abs_box_difference": max((float(np.abs(x - y).max()) if len(x) else 0.0)
                                          for x, y in zip(b2, boxes)) if all(len(x) == len(y) for x, y in zip(b2, boxes)) else None,
            "same_labels": all(np.array_equal(x, y) for x, y in zip(l2, labels)),
        }
    else:
        out["loader"] = {"skipped": f"{dataset} not found"}

    # 2. The reference detector on our weights.
    det = ref.Detector(int(at["input"]), float(at["scale"]), float(at["alpha"]), int(at["endpoints"]),
                       int(at["head_filters"]), int(at["head_convs"]), int(at["num_classes"]), float(at["anchor_size"]),
                       bn_momentum=float(at["bn_momentum"]), weight_decay=float(at["weight_decay"]))
    # The initial weights' distributions: TFM's own draws (this detector, before ours replace them) against ours.
    ratios, differ = [], []
    for name, var, _ in ref.weight_map(det, order, int(at["head_convs"])):
        theirs, mine = var.numpy().astype(np.float64), params[name].astype(np.float64)
        if theirs.std() == 0 or mine.std() == 0:        # constants: BN gamma and beta, biases
            if theirs.std() != mine.std() or not np.isclose(theirs.mean(), mine.mean(), rtol=1e-6, atol=0):
                differ.append(name)
        elif theirs.size >= 256:                        # sample sds of smaller tensors are too noisy to compare
            ratios.append(mine.std() / theirs.std())
    out["initial_weights"] = {"tensors_compared": len(ratios), "sd_ratio_median": float(np.median(ratios)),
                              "sd_ratio_min": float(min(ratios)), "sd_ratio_max": float(max(ratios)),
                              "constant_tensors_that_differ": differ}
    ref.load_ours(det, params, moving, order, int(at["head_convs"]))

    # 3. Anchors and targets: TFM's labeler against ours.
    tfm_anchors = np.concatenate([det.anchors[str(l)].numpy().reshape(-1, 4) for l in range(3, 8)])[:, [1, 0, 3, 2]]
    level_sizes = [ref.ceil_div(int(at["input"]), 2 ** l) ** 2 * 9 for l in range(3, 8)]
    starts = np.cumsum([0] + level_sizes)
    out["anchors"] = {f"L{l}_max_abs_difference": float(np.abs(tfm_anchors[s:e] - our_anchors[s:e]).max())
                      for l, s, e in zip(range(3, 8), starts[:-1], starts[1:])}
    t = det.targets(boxes, labels)
    tfm_cls = t["cls"].numpy().reshape(-1).astype(np.int64)
    ours_cls = our_cls.astype(np.int64)
    ours_neg = np.where(ours_cls < 0, -1, ours_cls)
    pos_t, pos_o = tfm_cls >= 0, ours_cls >= 0
    tfm_box = t["box"].numpy().reshape(-1, 4)[:, [1, 0, 3, 2]]
    both = pos_t & pos_o
    out["targets"] = {
        "positives_ours": int(pos_o.sum()), "positives_tfm": int(pos_t.sum()),
        "ignored_ours": int((ours_cls == -2).sum()), "ignored_tfm": int((t["cw"].numpy() == 0).sum()),
        "anchors_with_different_class": int((tfm_cls != ours_neg).sum()),
        "max_abs_box_target_difference": float(np.abs(tfm_box[both] - our_box[both]).max()) if both.any() else 0.0,
    }

    # 4. The step: forward in training mode (batch statistics), TFM's losses, gradients.
    x = tf.constant(images.astype(np.float64) if a.float64 else images)
    alpha, gamma = float(at["focal_alpha"]), float(at["focal_gamma"])
    delta, w_box, wd = float(at["huber_delta"]), float(at["box_weight"]), float(at["weight_decay"])
    pairs = ref.weight_map(det, order, int(at["head_convs"]))
    variables = [v for _, v, _ in pairs]
    with tf.GradientTape() as tape:
        cls, box = det(x, training=True)
        focal, huber = det.losses(cls, box, t, alpha, gamma, delta)
        total = tf.cast(focal, huber.dtype) + w_box * huber   # TFM's FocalLoss computes in float32
    g = tape.gradient(total, variables)
    n_tfm = float(tf.reduce_sum(t["bw"]).numpy()) + 1.0
    n_ours = float(max(1, int(at["positives"])))
    to_ours = n_tfm / n_ours       # the same loss and gradients under our normaliser
    theirs = {}
    for (name, var, kind), gv in zip(pairs, g):
        v = np.zeros(var.shape, np.float32) if gv is None else gv.numpy()
        if kind == "box":       # back to our channel order
            inv = np.argsort(ref.box_index(v.shape[-1]))
            v = v[..., inv]
        theirs[name] = v
    norm = float(np.sqrt(sum(float((v.astype(np.float64) ** 2).sum()) for v in theirs.values())))
    decayed = float(np.sqrt(sum(float(((theirs[n].astype(np.float64) + (wd / to_ours if n.endswith("/kernel") else 0)
                                        * params[n]) ** 2).sum()) for n in order)))
    ours = {"total": float(at["loss_total"]), "focal": float(at["loss_focal"]), "huber": float(at["loss_huber"]),
            "grad_norm": float(at["grad_norm"]), "grad_norm_with_decay": float(at["grad_norm_with_decay"]),
            "positives": int(at["positives"]), "normalizer": n_ours}
    tfm = {"total": float(total.numpy()), "focal": float(focal.numpy()), "huber": float(huber.numpy()),
           "grad_norm": norm, "grad_norm_with_decay": decayed, "positives": int(n_tfm - 1), "normalizer": n_tfm}
    aligned = {k: tfm[k] * to_ours for k in ("total", "focal", "huber", "grad_norm")}
    aligned["grad_norm_with_decay"] = float(np.sqrt(sum(float(((theirs[n].astype(np.float64) * to_ours
                                                                + (wd if n.endswith("/kernel") else 0) * params[n]) ** 2).sum())
                                                        for n in order)))
    out["ours"], out["tfm"], out["tfm_with_our_normalizer"] = ours, tfm, aligned
    out["relative_difference"] = {k: rel(tfm[k], ours[k]) for k in ("total", "focal", "huber", "grad_norm", "grad_norm_with_decay")}
    out["relative_difference_same_normalizer"] = {k: rel(aligned[k], ours[k]) for k in aligned}
    per = []
    for name in order:
        d = np.linalg.norm((theirs[name] * to_ours - grads[name]).ravel())
        per.append((float(d / max(np.linalg.norm(grads[name].ravel()), 1e-30)), name))
    per.sort(reverse=True)
    # All gradients as one vector: |theirs - ours| / |ours| (dominated by the tensors that matter); per tensor,
    # only those whose gradient is at least 1e-3 of the largest tensor's (a bias before a batch norm has a zero
    # gradient in exact arithmetic, so both sides hold rounding noise there and their ratio means nothing).
    diff2 = sum(float(((theirs[n].astype(np.float64) * to_ours - grads[n]) ** 2).sum()) for n in order)
    ours2 = sum(float((grads[n].astype(np.float64) ** 2).sum()) for n in order)
    out["gradient_relative_difference_all"] = float(np.sqrt(diff2 / ours2))
    norms = {n: float(np.linalg.norm(grads[n].ravel())) for n in order}
    big = max(norms.values())
    kept = [(r, n) for r, n in per if norms[n] >= 1e-3 * big]
    out["gradient_tensors_compared"] = f"{len(kept)} of {len(per)} (gradient norm >= 1e-3 of the largest)"
    out["gradient_relative_difference_per_tensor_worst"] = [{"name": n, "relative": r, "norm": norms[n]} for r, n in kept[:8]]
    out["gradient_relative_difference_per_tensor_median"] = float(np.median([r for r, _ in kept]))
    # The head's prediction convs (no batch norm after them) against everything behind a batch norm.
    pred = [r for r, n in per if n.startswith("head/") and "/predict/" in n]
    out["gradient_relative_difference_prediction_convs_max"] = float(max(pred))
    # 5. The update, then the second batch. TFM's optimiser (Keras SGD with momentum and a global-norm clip) and
    # its weight decay (l2(wd / 2) on conv kernels) on the gradients under our normaliser, at our first learning
    # rate; the loss of the second batch after it, under our normaliser, against ours.
    if "second_loss_total" in at and out["loader"].get("same_ids"):
        import tf_keras
        clip = float(at["clip_norm"]) if "clip_norm" in at else None
        opt = tf_keras.optimizers.SGD(learning_rate=float(at["first_learning_rate"]), momentum=float(at["momentum"]),
                                      global_clipnorm=clip)
        with tf.GradientTape() as tape:
            cls, box = det(x, training=True)
            focal, huber = det.losses(cls, box, t, alpha, gamma, delta, normalizer=n_ours)
            loss = tf.cast(focal, huber.dtype) + w_box * huber + det.regularization
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        im2, b2, l2, _, _ = loader.make_batch(0, 1)
        t2 = det.targets(b2, l2)
        n2 = float(max(1, int(at["second_positives"])))
        cls, box = det(tf.constant(im2.astype(np.float64) if a.float64 else im2), training=True)
        focal2, huber2 = det.losses(cls, box, t2, alpha, gamma, delta, normalizer=n2)
        second_t = {"total": float(focal2) + w_box * float(huber2), "focal": float(focal2), "huber": float(huber2)}
        second_o = {k: float(at[f"second_loss_{k}"]) for k in ("total", "focal", "huber")}
        out["second_step"] = {"learning_rate": float(at["first_learning_rate"]), "positives": int(at["second_positives"]),
                              "ours": second_o, "tfm_with_our_normalizer": second_t,
                              "relative_difference": {k: rel(second_t[k], second_o[k]) for k in second_o}}
    out["deviations"] = ref.DEVIATIONS
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    r = out["relative_difference_same_normalizer"]
    print(f"ours: loss {ours['total']:.6f} (focal {ours['focal']:.6f}, huber {ours['huber']:.6f}), grad norm "
          f"{ours['grad_norm']:.6f}; TFM: loss {tfm['total']:.6f} (focal {tfm['focal']:.6f}, huber {tfm['huber']:.6f}), "
          f"grad norm {tfm['grad_norm']:.6f}; with our normaliser: relative differences total {r['total']:.2e}, "
          f"focal {r['focal']:.2e}, huber {r['huber']:.2e}, grad norm {r['grad_norm']:.2e} -> {a.out}")


if __name__ == "__main__":
    main()
