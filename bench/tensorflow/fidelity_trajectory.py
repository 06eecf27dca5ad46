"""The first K training steps from the same weights, spinebench's against the reference's (issue #21).

`spinebench first-step --steps K` trains K steps as a run does and writes, per step, the loss, positives,
learning rate, gradient norm and a fingerprint of the batch (Sources/Harness/FirstStepExport.swift). This script
loads the same initial weights into the reference detector (tfm_retinanet.py), makes the same batches with the
reference trainer's loader (spinedata.py), and takes the same K steps under spinebench's conventions (loss over
max(1, positives), our learning rate of each step, tfm_retinanet.SpinebenchSGD), so that only the implementations
differ. It writes a JSON with both sides' per-step figures and:

- the first step whose batch differs (pixel sum, box sum or box count), if any: the data;
- the loss's relative difference step by step: float32 rounding makes it grow from ~1e-6, and training, which
  amplifies small differences, makes it grow further; a step where it jumps, or a drift of one side's mean
  below the other's, points at a difference in the update or the data.

Usage (the pinned environment of `make .venv-tf/ok`):
  .venv-tf/bin/python bench/tensorflow/fidelity_trajectory.py STEP.h5 --out results/fidelity/trajectory.json
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spinedata  # noqa: E402
import tfm_retinanet as ref  # noqa: E402
import tensorflow as tf  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", help="the HDF5 file of `spinebench first-step --steps K`")
    p.add_argument("--out", required=True, help="JSON to write")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--float64", action="store_true",
                   help="the reference in double precision: how fast float32 rounding alone makes a run part from itself")
    a = p.parse_args()
    ref.set_threads(a.threads)
    if a.float64:
        import tf_keras
        tf_keras.backend.set_floatx("float64")
    dt = tf.float64 if a.float64 else tf.float32
    text = lambda v: v.decode() if isinstance(v, bytes) else str(v)

    with h5py.File(a.step, "r") as f:
        at = dict(f.attrs)
        if "trajectory" not in f:
            raise SystemExit(f"{a.step}: no /trajectory group (write it with `spinebench first-step --steps K`)")
        ours = {k: f["trajectory"][k][...] for k in f["trajectory"]}
        order, params, moving = ref.first_step_weights(f)
    with open(text(at["ablation"])) as f:
        prof = yaml.safe_load(f)["profiles"][text(at["profile"])]
    steps = len(ours["loss"])

    det = ref.Detector(int(at["input"]), float(at["scale"]), float(at["alpha"]), int(at["endpoints"]),
                       int(at["head_filters"]), int(at["head_convs"]), int(at["num_classes"]), float(at["anchor_size"]),
                       bn_momentum=float(at["bn_momentum"]), weight_decay=float(at["weight_decay"]))
    ref.load_ours(det, params, moving, order, int(at["head_convs"]))
    variables = det.variables
    sgd = ref.SpinebenchSGD(variables, float(at["momentum"]), float(at["clip_norm"]) if "clip_norm" in at else None)
    alpha, gamma, delta = float(at["focal_alpha"]), float(at["focal_gamma"]), float(at["huber_delta"])
    w_box = float(at["box_weight"])
    split = spinedata.Split(text(at["dataset"]), "train")
    loader = spinedata.Loader(split, int(at["batch_size"]), int(at["input"]), True, int(at["seed"]),
                              tuple(prof["scale_jitter"]), prof["flip_probability"])
    per_epoch = loader.batches_per_epoch

    @tf.function(jit_compile=False)
    def step(images, t, rate):
        with tf.GradientTape() as tape:
            cls, box = det(images, training=True)
            n = tf.maximum(tf.reduce_sum(tf.cast(t["bw"], dt)), 1.0)
            focal, huber = det.losses(cls, box, t, alpha, gamma, delta, normalizer=n)
            model_loss = tf.cast(focal, dt) + w_box * huber     # TFM's FocalLoss computes in float32
            loss = model_loss + tf.cast(det.regularization, dt)
        return model_loss, sgd.apply(tape.gradient(loss, variables), rate)

    theirs = {k: [] for k in ("loss", "grad_norm", "positives", "pixel_sum", "box_sum", "box_count")}
    for s in range(steps):
        images, boxes, labels, _, _ = loader.make_batch(s // per_epoch, s % per_epoch)
        t = det.targets(boxes, labels)
        x = tf.constant(images.astype(np.float64) if a.float64 else images)
        loss, norm = step(x, t, tf.constant(float(ours["learning_rate"][s]), dt))
        theirs["loss"].append(float(loss))
        theirs["grad_norm"].append(float(norm))
        theirs["positives"].append(int(tf.reduce_sum(t["bw"]).numpy()))
        theirs["pixel_sum"].append(float(images.astype(np.float64).sum()))
        theirs["box_sum"].append(float(sum(b.astype(np.float64).sum() for b in boxes)))
        theirs["box_count"].append(int(sum(len(b) for b in boxes)))
        if (s + 1) % 50 == 0:
            print(f"step {s + 1}/{steps}: loss ours {ours['loss'][s]:.5f}, reference {theirs['loss'][-1]:.5f}", flush=True)

    o = {k: np.asarray(v, np.float64) for k, v in ours.items()}
    r = {k: np.asarray(v, np.float64) for k, v in theirs.items()}
    same_batch = ((np.abs(o["pixel_sum"] - r["pixel_sum"]) <= 1e-3 * np.maximum(1, np.abs(o["pixel_sum"])))
                  & (np.abs(o["box_sum"] - r["box_sum"]) <= 1e-3 * np.maximum(1, np.abs(o["box_sum"])))
                  & (o["box_count"] == r["box_count"]))
    rel = np.abs(o["loss"] - r["loss"]) / np.abs(o["loss"])
    marks = [s for s in (1, 2, 3, 5, 10, 20, 50, 100, 200, 300, 400, 800, 1600) if s <= steps]
    blocks = [(b, min(b + 50, steps)) for b in range(0, steps, 50)]
    out = {
        "model": text(at["model"]), "profile": text(at["profile"]), "seed": int(at["seed"]), "steps": steps,
        "weights": text(at["weights"]) if "weights" in at else "initial", "conventions": "spinebench",
        "reference_precision": "float64" if a.float64 else "float32",
        "first_step_with_a_different_batch": next((int(s) for s in np.flatnonzero(~same_batch)), None),
        "steps_with_a_different_batch": int((~same_batch).sum()),
        "first_step_with_different_positives": next((int(s) for s in np.flatnonzero(o["positives"] != r["positives"])), None),
        "loss_relative_difference_at_step": {str(s): float(rel[s - 1]) for s in marks},
        "mean_loss_per_50_steps": [{"steps": f"{b}-{e - 1}", "ours": float(o["loss"][b:e].mean()),
                                    "reference": float(r["loss"][b:e].mean())} for b, e in blocks],
        "ours": {k: v.tolist() for k, v in o.items()}, "reference": {k: v.tolist() for k, v in r.items()},
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"batches differ at {out['steps_with_a_different_batch']} of {steps} steps (first: "
          f"{out['first_step_with_a_different_batch']}); loss relative difference by step: "
          + ", ".join(f"{k}: {v:.1e}" for k, v in out["loss_relative_difference_at_step"].items()) + f" -> {a.out}")


if __name__ == "__main__":
    main()
