"""results/fidelity.md and results/fidelity.svg from the fidelity runs (issue #21, `make fidelity`).

Reads spinebench's records (RESULTS/records/fidelity/PROFILE/spinenet-49/seed-N.json and the run folders' COCO
files), the reference trainer's records (REFERENCE/seed-N/record.json and COCO files) and the first-step
comparison (fidelity_step.py's JSON). Scores every run's val detections with one evaluator, `spinebench
coco-eval` (and with pycocotools beside it), and writes:
- AP per seed of both implementations, and two comparisons: spinebench against the reference trained from our
  initial weights of the same seed (REFERENCE-OUR-INIT, `--paired`: same weights and data order, so seeds
  pair: the paired difference, its 95% CI and p-value, the verdict), and against the reference from its own
  draws (the difference of means with Welch's 95% CI: those seeds share data order but not weights);
- the training loss of the last epoch compared the same two ways;
- diagnostic runs of the reference (`--diagnostic`: e.g. under spinebench's conventions), each beside our run
  of its seed;
- the loss curves of all on one SVG (the mean over seeds of each kind of run, every seed's curve faint);
- the same-weights first step: total, focal and box loss and gradient norm from both, relative differences;
- the time both took, side by side;
- every recipe deviation that remains (tfm_retinanet.DEVIATIONS).
"""
import argparse
import glob
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def load(path):
    with open(path) as f:
        return json.load(f)


def coco_eval(binary, gt, det, area_scale):
    out = subprocess.run([binary, "coco-eval", gt, det, "--json", "--area-scale", repr(area_scale)],
                         check=True, capture_output=True, text=True).stdout
    d = json.loads(out)
    return {k: 100 * v for k, v in d.items() if k != "area_scale"}   # coco-eval prints fractions; records hold percent


def pycoco(gt, det, area_scale):
    from train_reference import coco_metrics
    return coco_metrics(gt, det, area_scale)


def welch(a, b):
    """Mean of a minus mean of b, its 95% CI (Welch), or no interval with fewer than two runs a side."""
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    if len(a) < 2 or len(b) < 2:
        return ma - mb, None
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1)
    se2 = va / len(a) + vb / len(b)
    if se2 == 0:
        return ma - mb, (ma - mb, ma - mb)
    df = se2 ** 2 / ((va / len(a)) ** 2 / (len(a) - 1) + (vb / len(b)) ** 2 / (len(b) - 1))
    from scipy.stats import t
    h = t.ppf(0.975, df) * math.sqrt(se2)
    return ma - mb, (ma - mb - h, ma - mb + h)


def paired(a, b):
    """Mean of a - b over pairs, its 95% CI and two-sided p-value (paired t), or no interval under two pairs."""
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    m = sum(d) / n
    if n < 2:
        return m, None, None
    sd = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1))
    from scipy.stats import t
    if sd == 0:
        return m, (m, m), 0.0 if m else 1.0
    se = sd / math.sqrt(n)
    h = t.ppf(0.975, n - 1) * se
    return m, (m - h, m + h), float(2 * t.sf(abs(m / se), n - 1))


def detectable(a, b):
    """The smallest true mean difference the paired t-test over these pairs detects with power 0.8 at two-sided
    alpha 0.05: (t_0.975 + t_0.8) x sd / sqrt(n) (the approximation Sources/Harness/Statistics.swift uses)."""
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    m = sum(d) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1))
    from scipy.stats import t
    return (t.ppf(0.975, n - 1) + t.ppf(0.8, n - 1)) * sd / math.sqrt(n)


def last_epoch_loss(record):
    """Mean training loss of the last epoch, from a record's loss curve (windows of `lossWindow` steps, the last
    one of each epoch shorter), weighted by steps."""
    tr = record["training"]
    spe = tr["steps"] // tr["epochs"]
    win = tr["lossWindow"]
    sizes = [min(win, spe - i) for i in range(0, spe, win)]
    tail = tr["lossCurve"][-len(sizes):]
    return sum(v * n for v, n in zip(tail, sizes)) / spe


def svg(curves, path, title):
    """Loss against epochs, log-scaled loss axis. curves: (label or None, colour, width, xs, ys); a curve with
    no label draws no legend entry."""
    w, h, l, r, top, bottom = 760, 420, 70, 230, 40, 50
    pts = [(x, y) for _, _, _, xs, ys in curves for x, y in zip(xs, ys) if y > 0]
    if not pts:
        return
    x0, x1 = 0, max(x for x, _ in pts)
    y0, y1 = math.log10(min(y for _, y in pts)), math.log10(max(y for _, y in pts))
    if y1 - y0 < 1e-9:
        y1 = y0 + 1
    sx = lambda x: l + (x - x0) / max(x1 - x0, 1e-9) * (w - l - r)
    sy = lambda y: top + (y1 - math.log10(y)) / (y1 - y0) * (h - top - bottom)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
           f'<line x1="{l}" y1="{h - bottom}" x2="{w - r}" y2="{h - bottom}" stroke="black"/>',
           f'<line x1="{l}" y1="{top}" x2="{l}" y2="{h - bottom}" stroke="black"/>',
           f'<text x="{(l + w - r) / 2}" y="{h - 12}" text-anchor="middle">epoch</text>',
           f'<text x="16" y="{(top + h - bottom) / 2}" transform="rotate(-90 16 {(top + h - bottom) / 2})" '
           f'text-anchor="middle">training loss (log scale)</text>']
    for e in range(0, int(math.ceil(x1)) + 1, max(1, int(math.ceil(x1)) // 8)):
        out.append(f'<text x="{sx(e):.1f}" y="{h - bottom + 16}" text-anchor="middle">{e}</text>')
    for i in range(6):      # six ticks evenly spaced on the log axis, labelled to 3 significant digits
        v = float(f"{10 ** (y0 + (y1 - y0) * i / 5):.3g}")
        out.append(f'<line x1="{l - 4}" y1="{sy(v):.1f}" x2="{w - r}" y2="{sy(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{l - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    i = 0
    for label, colour, width, xs, ys in curves:
        line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys) if y > 0)
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="{width}"'
                   + ('' if label else ' stroke-opacity="0.3"') + '/>')
        if label:
            out.append(f'<line x1="{w - r + 10}" y1="{top + 16 * i}" x2="{w - r + 30}" y2="{top + 16 * i}" '
                       f'stroke="{colour}" stroke-width="2"/>')
            out.append(f'<text x="{w - r + 34}" y="{top + 16 * i + 4}">{label}</text>')
            i += 1
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def epochs_at(points, window, steps_per_epoch):
    """Where each loss-curve point ends, in epochs: both trainers average `window` steps and close a shorter
    window at each epoch's end, so an epoch holds ceil(steps / window) points."""
    per = -(-int(steps_per_epoch) // window)
    return [i // per + min((i % per + 1) * window, steps_per_epoch) / steps_per_epoch for i in range(points)]


def trajectory_section(path, path64):
    """The first K steps from the same weights (fidelity_trajectory.py), against the rounding baseline."""
    if not os.path.exists(path):
        return []
    t = load(path)
    t64 = load(path64) if os.path.exists(path64) else None
    o, r = t["ours"]["loss"], t["reference"]["loss"]
    r64 = t64["reference"]["loss"] if t64 else None
    k = t["steps"]
    rel = lambda x, y, s: abs(x[s] - y[s]) / abs(y[s])
    L = [f"## The first {k} steps on the same weights", "",
         f"spinebench trains {k} steps from its seed-{t['seed']} initial weights as a run does (`spinebench first-step "
         f"--steps {k}`: batches, schedule, optimiser); the reference (`bench/tensorflow/fidelity_trajectory.py`) "
         "takes the same steps from the same weights on its own loader's batches, under spinebench's conventions "
         "(normaliser, momentum form, each step's learning rate), so that only the implementations differ; it runs "
         "once in float32 and once in float64. Training amplifies any difference, rounding included: the float32 "
         "reference against the float64 one shows how fast rounding alone makes a run part from itself.", ""]
    diff = t["first_step_with_a_different_batch"]
    L += [("Batches: the same at all " + str(k) + " steps (pixel sum, box coordinates and count)." if diff is None
           else f"Batches: {t['steps_with_a_different_batch']} of {k} differ, the first at step {diff}.")
          + (" Positive anchors: the same at every step." if t["first_step_with_different_positives"] is None
             else f" Positive anchors first differ at step {t['first_step_with_different_positives']}."), ""]
    go, gr = t["ours"]["grad_norm"], t["reference"]["grad_norm"]
    g64 = t64["reference"]["grad_norm"] if t64 else None
    head = ("| step | loss: spinebench vs reference (float32) |" + (" spinebench vs reference (float64) | reference "
            "float32 vs float64 (rounding alone) | gradient norm: spinebench vs reference (float64) | reference float32 "
            "vs float64 |" if r64 else ""))
    L += ["Relative differences at step n (n = 1 is the first batch, before any update; the gradient norm is taken "
          "before clipping, weight decay included):", "", head, "|---|---|" + ("---|---|---|---|" if r64 else "")]
    for n in (1, 2, 3, 5, 10, 20, 50, 100, 200, 400, 800):
        if n <= k:
            row = f"| {n} | {rel(o, r, n - 1):.1e} |"
            if r64:
                row += (f" {rel(o, r64, n - 1):.1e} | {rel(r, r64, n - 1):.1e} | {rel(go, g64, n - 1):.1e} | "
                        f"{rel(gr, g64, n - 1):.1e} |")
            L.append(row)
    L += ["", "Mean loss per 100 steps:", "",
          "| steps | spinebench | reference (float32) |" + (" reference (float64) |" if r64 else ""),
          "|---|---|---|" + ("---|" if r64 else "")]
    mean = lambda x, b, e: sum(x[b:e]) / (e - b)
    for b in range(0, k, 100):
        e = min(b + 100, k)
        L.append(f"| {b + 1}-{e} | {mean(o, b, e):.4f} | {mean(r, b, e):.4f} |" + (f" {mean(r64, b, e):.4f} |" if r64 else ""))
    L.append("")
    return L


def trained_section(path, path64):
    """The first-step comparison at our seed 0's last checkpoint (fidelity_step.py on `first-step --checkpoint`)."""
    if not os.path.exists(path):
        return []
    s = load(path)
    s64 = load(path64) if os.path.exists(path64) else None
    rs = s["relative_difference_same_normalizer"]
    g = lambda d: (f"all gradients as one vector {d['gradient_relative_difference_all']:.1e}, per tensor "
                   f"({d['gradient_tensors_compared']}) median {d['gradient_relative_difference_per_tensor_median']:.1e}, "
                   f"largest {d['gradient_relative_difference_per_tensor_worst'][0]['relative']:.1e} "
                   f"(`{d['gradient_relative_difference_per_tensor_worst'][0]['name']}`)")
    L = ["## The same step at a trained state", "",
         f"The comparison of the first step repeated on the weights our seed-{s['seed']} run ended with ({s['weights']}; "
         "`spinebench first-step --checkpoint`), where the losses and layers work in the regimes training reaches "
         f"(confident logits, trained batch norms) rather than at initialisation. Batch of {s['batch']} images, "
         f"{s['ours']['positives']} positives. Under the same normaliser the total loss agrees to {rs['total']:.1e} "
         f"(focal {rs['focal']:.1e}, Huber {rs['huber']:.1e}) and the gradient norm to {rs['grad_norm']:.1e}.", "",
         f"Gradients, relative difference to ours: reference in float32: {g(s)}"
         + (f"; reference in float64: {g(s64)}" if s64 else "") + "."]
    if "second_step" in s:
        L += ["", f"After one update, the second batch's loss: relative difference "
              f"{s['second_step']['relative_difference']['total']:.1e}."]
    L.append("")
    return L


def fmt(v, d=2):
    return "—" if v is None else f"{v:.{d}f}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="fidelity")
    p.add_argument("--ablation", default="ablations/fidelity.yaml")
    p.add_argument("--results", default="results/fidelity", help="spinebench's --results folder of the runs")
    p.add_argument("--runs", default="runs", help="spinebench's --runs folder of the runs")
    p.add_argument("--reference", default="results/fidelity/reference", help="the reference's records, PROFILE/seed-N.json")
    p.add_argument("--paired", default="results/fidelity/reference-our-init",
                   help="the reference's records from our initial weights, PROFILE/seed-N.json")
    p.add_argument("--diagnostic", default="results/fidelity/diagnostic",
                   help="diagnostic reference runs (any *.json of train_reference.py), each beside ours of its seed")
    p.add_argument("--twin", default="results/fidelity/no-fusion",
                   help="spinebench's --results folder of its runs again with --no-fusion (float rounding alone)")
    p.add_argument("--step", default="results/fidelity/first-step-fidelity.json")
    p.add_argument("--step64", default="results/fidelity/first-step-fidelity-float64.json",
                   help="the same comparison with the reference in double precision")
    p.add_argument("--trajectory", default="results/fidelity/trajectory-fidelity.json",
                   help="fidelity_trajectory.py's comparison of the first steps")
    p.add_argument("--trajectory64", default="results/fidelity/trajectory-fidelity-float64.json")
    p.add_argument("--trained", default="results/fidelity/trained-step-fidelity.json",
                   help="fidelity_step.py's comparison at our seed 0's last checkpoint")
    p.add_argument("--trained64", default="results/fidelity/trained-step-fidelity-float64.json")
    p.add_argument("--binary", default=".build/release/spinebench")
    p.add_argument("--out", default="results/fidelity.md")
    p.add_argument("--svg", default="results/fidelity.svg")
    a = p.parse_args()

    ours = {}
    for path in sorted(glob.glob(f"{a.results}/records/fidelity/{a.profile}/spinenet-49/seed-*.json")):
        r = load(path)
        if r.get("status") == "ok":
            ours[r["seed"]] = r
    def reference_records(folder):
        out = {}
        for path in sorted(glob.glob(f"{folder}/seed-*.json")):
            r = load(path)
            out[r["seed"]] = r
        return out
    theirs = reference_records(f"{a.reference}/{a.profile}")        # the reference from its own initial weights
    ours_init = reference_records(f"{a.paired}/{a.profile}")        # the reference from ours of the same seed

    def score(r):
        """A reference run's AP by `spinebench coco-eval` from its COCO files (pycocotools' is in the record)."""
        d = r["runDir"]
        return coco_eval(a.binary, f"{d}/val-ground-truth.json", f"{d}/val-detections.json", r["areaScale"])["AP"]

    rows = []
    for seed in sorted(set(ours) | set(theirs) | set(ours_init)):
        row = {"seed": seed}
        if seed in ours:
            r = ours[seed]
            d = f"{a.runs}/fidelity/{a.profile}/spinenet-49/seed-{seed}"
            gt, det = f"{d}/val-ground-truth.json", f"{d}/val-detections.json"
            if os.path.exists(det):
                row["ours"] = coco_eval(a.binary, gt, det, r["areaScale"])["AP"]
                row["ours_pycoco"] = pycoco(gt, det, r["areaScale"])["AP"]
            else:
                row["ours"] = r["metrics"]["AP"]
            if r["training"].get("resumedFromEpoch", 0) == 0:    # a resumed run's clock holds only its last part
                row["ours_min"] = r["measured"]["trainSeconds"] / 60
            row["ours_eval_min"] = r["measured"]["evalSeconds"] / 60
            row["ours_loss"] = last_epoch_loss(r)
        for key, runs in (("ref", theirs), ("paired", ours_init)):
            if seed in runs:
                r = runs[seed]
                row[key] = score(r)
                row[key + "_pycoco"] = r["metrics"]["AP"]
                row[key + "_min"] = r["measured"]["trainSeconds"] / 60
                row[key + "_eval_min"] = r["measured"]["evalSeconds"] / 60
                row[key + "_loss"] = last_epoch_loss(r)
        rows.append(row)
    by_seed = {r["seed"]: r for r in rows}
    ap_ours = [r["ours"] for r in rows if "ours" in r]
    ap_ref = [r["ref"] for r in rows if "ref" in r]
    pairs = [r for r in rows if "ours" in r and "paired" in r]

    L = ["# Fidelity: spinebench against the reference implementation (SpineNet-49)", "",
         "Generated by `make fidelity` (`bench/tensorflow/fidelity_report.py`) from the records under "
         f"`{a.results}/`; do not edit by hand. Issue #21.", ""]
    any_ours = next(iter(ours.values()), None)
    any_ref = next(iter(theirs.values()), None) or next(iter(ours_init.values()), None)
    import yaml
    with open(a.ablation) as f:
        st = yaml.safe_load(f)["profiles"][a.profile]
    L += [f"Profile `{a.profile}` of `{a.ablation}` (the recipe of both sides): input {st['input']} px, width "
          f"{st['scale']}, alpha {st['alpha']}, endpoints {st['endpoints']}, head {st['head_convs']}x{st['head_filters']}, "
          f"anchor size {st['anchor_size']}, {st['epochs']} epochs of {st['dataset']['train']} images at batch "
          f"{st['batch']}, learning rate {st['learning_rate']} ({st['schedule']}: warmup {st['warmup_fraction']} from "
          f"{st['warmup_start']}x, x0.1 at {st['decay_points']}), momentum {st['momentum']}, weight decay "
          f"{st['weight_decay']}, clip norm {st['clip_norm']}, focal alpha {st['focal_alpha']} gamma {st['focal_gamma']}, "
          f"Huber delta {st['huber_delta']} x {st['box_weight']}, flips {st['flip_probability']}, scale jitter "
          f"{st['scale_jitter']}, batch-norm statistics at evaluation: {st['eval_batch_norm']}; {st['seeds']} seeds "
          "of each kind of run.", ""]
    status = (f"{len(ours)} spinebench run(s), {len(ours_init)} of the reference from our initial weights and "
              f"{len(theirs)} from its own, of {st['seeds']} each"
              + ("" if ours and (theirs or ours_init) else "; the training comparison waits for `make fidelity`") + ".")
    L += [f"Status: {status}", ""]
    if os.path.exists(a.step):
        s0 = load(a.step)
        rd, rs = s0["relative_difference"], s0["relative_difference_same_normalizer"]
        L += [f"Same initial weights, first step: the total loss agrees to {rs['total']:.1e} relative and the gradient "
              f"norm to {rs['grad_norm']:.1e} once both divide by the same number of positives; as each implementation "
              f"normalises (TFM by positives + 1) they differ by {rd['total']:.1e}, exactly that ratio. Details below.", ""]
    if any_ours:
        c = any_ours.get("provenance", {})
        L += [f"spinebench: commit {c.get('commit', '?')[:10]}, {c.get('threads', '?')} thread(s) per run. "
              f"Reference: {', '.join(f'{k} {v}' for k, v in (any_ref or {}).get('versions', {}).items())}.", ""]

    L += ["## AP per seed", "",
          f"COCO box AP (%) on the {st['dataset']['val']} "
          "val images, every run scored by `spinebench coco-eval` from its "
          "`val-detections.json` (pycocotools in brackets), size classes scaled by "
          f"{(st['anchor_size'] / 3) ** 2:.3f} ((anchor size / 3)^2). Seed k of every kind of run sees the same data "
          "in the same order with the same augmentation; \"our weights\" is spinebench's initial SpineNet-49 of seed k "
          "(`spinebench first-step --seed k`) loaded into the reference, \"its weights\" the reference's own draws "
          "(the same distributions). Train minutes: wall clock per run, evaluation excluded.", "",
          "| seed | spinebench AP | reference AP, our weights | reference AP, its weights | spinebench train min "
          "| reference train min (our weights, its weights) |", "|---|---|---|---|---|---|"]
    if not rows:
        L.append("| — | not run yet | not run yet | not run yet | | |")
    for r in rows:
        cell = lambda k: f"{fmt(r.get(k))} ({fmt(r.get(k + '_pycoco'))})" if k in r else "—"
        om = fmt(r.get("ours_min"), 1) if "ours_min" in r or "ours" not in r else "— (resumed)"
        L.append(f"| {r['seed']} | {cell('ours')} | {cell('paired')} | {cell('ref')} | {om} | "
                 f"{fmt(r.get('paired_min'), 1)}, {fmt(r.get('ref_min'), 1)} |")
    L.append("")

    twins = [load(p) for p in sorted(glob.glob(f"{a.twin}/records/fidelity/{a.profile}/spinenet-49/seed-*.json"))]
    twins = [r for r in twins if r.get("status") == "ok"]
    L += ["## Do they train to the same AP?", ""]
    if len(pairs) >= 2:
        d, ci, pv = paired([r["ours"] for r in pairs], [r["paired"] for r in pairs])
        verdict = ("the CI contains zero: no difference the seeds can resolve" if ci[0] <= 0 <= ci[1]
                   else "the CI excludes zero: the two implementations do not train to the same AP")
        mdd = detectable([r["ours"] for r in pairs], [r["paired"] for r in pairs])
        L += [f"**From the same initial weights** (paired by seed, {len(pairs)} pairs): spinebench - reference = "
              f"**{d:+.2f} AP**, 95% CI [{ci[0]:+.2f}, {ci[1]:+.2f}], p = {pv:.2g} (paired t). Verdict: {verdict}. "
              f"The smallest difference these pairs resolve (power 0.8): {mdd:.1f} AP.", ""]
    elif pairs:
        L += [f"From the same initial weights: one pair so far (spinebench - reference = "
              f"{pairs[0]['ours'] - pairs[0]['paired']:+.2f} AP); a CI needs two.", ""]
    moved = [(r["seed"], r["metrics"]["AP"] - by_seed[r["seed"]]["ours"]) for r in twins
             if r["seed"] in by_seed and "ours" in by_seed[r["seed"]]]
    if moved:
        L += ["How far apart two runs of one implementation from the same weights and data end: our "
              + ", ".join(f"seed {s}" for s, _ in moved) + " trained again with `--no-fusion` (float rounding is the "
              "only difference) ended " + ", ".join(f"{v:+.2f} AP" for _, v in moved) + " from the first run. In "
              "float32 a run's end is chaotic (see the first 400 steps below), so pairing by weights removes the "
              "spread of the initial draw, not the spread of training itself.", ""]
    if ap_ours and ap_ref:
        d, ci = welch(ap_ours, ap_ref)
        mo, mr = sum(ap_ours) / len(ap_ours), sum(ap_ref) / len(ap_ref)
        L += [f"**From each implementation's own initial weights** (unpaired): spinebench {mo:.2f} ({len(ap_ours)} "
              f"seeds), reference {mr:.2f} ({len(ap_ref)} seeds); difference **{d:+.2f} AP**, 95% CI "
              + (f"[{ci[0]:+.2f}, {ci[1]:+.2f}] (Welch)" if ci else "— (needs two seeds a side)") + ".", ""]
        if ci and len(pairs) < 2:
            verdict = ("the CI contains zero: no difference the seeds can resolve" if ci[0] <= 0 <= ci[1]
                       else "the CI excludes zero: the two implementations do not train to the same AP")
            L += [f"Verdict: {verdict}.", ""]
    if not pairs and not (ap_ours and ap_ref):
        L += ["No pair of runs yet: run `make fidelity`.", ""]

    # The training loss of the last epoch: TFM divides by positives + 1, we by positives, so the reference's
    # figure is lower by that ratio alone (0.3-1% at this proxy's 100-300 positives per batch).
    lp = [r for r in pairs if "ours_loss" in r]
    lo, lr_ = [r["ours_loss"] for r in rows if "ours_loss" in r], [r["ref_loss"] for r in rows if "ref_loss" in r]
    if len(lp) >= 2 or (len(lo) >= 2 and len(lr_) >= 2):
        L += ["Training loss of the last epoch (focal + box weight x Huber, mean over its steps; the reference "
              "divides by positives + 1 and spinebench by positives, which alone puts the reference 0.3-1% lower):"]
        if len(lp) >= 2:
            d, ci, pv = paired([r["ours_loss"] for r in lp], [r["paired_loss"] for r in lp])
            L += [f"from the same weights, spinebench " + ", ".join(f"{r['ours_loss']:.3f}" for r in lp)
                  + " against the reference " + ", ".join(f"{r['paired_loss']:.3f}" for r in lp)
                  + f" (seeds {', '.join(str(r['seed']) for r in lp)}): difference {d:+.4f}, 95% CI "
                  f"[{ci[0]:+.4f}, {ci[1]:+.4f}], p = {pv:.2g} (paired t);"]
        if len(lo) >= 2 and len(lr_) >= 2:
            d, ci = welch(lo, lr_)
            L += [f"from each side's own weights, spinebench {sum(lo) / len(lo):.3f} ({len(lo)} seeds), the reference "
                  f"{sum(lr_) / len(lr_):.3f} ({len(lr_)}): difference {d:+.4f}, 95% CI [{ci[0]:+.4f}, {ci[1]:+.4f}] "
                  "(Welch)."]
        L.append("")

    timed = [r for r in rows if "ours_min" in r and "ref_min" in r]
    to, tr = sum(r["ours_min"] for r in timed), sum(r["ref_min"] for r in timed)
    if to:
        L += [f"Time, over the {len(timed)} seed(s) both sides trained from the start from their own weights: "
              f"spinebench {to:.1f} train minutes, the reference {tr:.1f} ({tr / to:.2f}x); evaluation apart (the "
              f"reference's detection generator: {sum(r.get('ref_eval_min', 0) for r in timed):.1f} min, "
              f"spinebench's {sum(r.get('ours_eval_min', 0) for r in timed):.1f}).", ""]

    diagnostics = [load(p) for p in sorted(glob.glob(f"{a.diagnostic}/*.json"))]
    diagnostics = [r for r in diagnostics if r.get("profile") == a.profile]
    if diagnostics or twins:
        L += ["## Diagnostic runs", "",
              "Runs with one thing changed, each beside our run of its seed: our run again with `--no-fusion` (every "
              "layer as its plain primitive: the same run but for float rounding, so the gap to ours is what "
              "rounding alone does to a run's end), and reference runs (`train_reference.py --conventions "
              "spinebench` swaps in spinebench's normaliser, momentum form and decay boundaries: deviations 3, 5 "
              "and 6 below).", "",
              "| seed | run | initial weights | conventions | AP | spinebench AP | last-epoch loss "
              "| spinebench last-epoch loss |", "|---|---|---|---|---|---|---|---|"]
        for r in twins:
            o = by_seed.get(r["seed"], {})
            L.append(f"| {r['seed']} | spinebench, --no-fusion | spinebench's | spinebench | {fmt(r['metrics']['AP'])} | "
                     f"{fmt(o.get('ours'))} | {last_epoch_loss(r):.3f} | {fmt(o.get('ours_loss'), 3)} |")
        for r in diagnostics:
            o = by_seed.get(r["seed"], {})
            init = "spinebench's" if r.get("initialWeights", "").endswith(".h5") else "its own"
            L.append(f"| {r['seed']} | reference | {init} | {r.get('conventions', 'tfm')} | {fmt(score(r))} | "
                     f"{fmt(o.get('ours'))} | {last_epoch_loss(r):.3f} | {fmt(o.get('ours_loss'), 3)} |")
        L.append("")

    def mean_curve(records):
        cs = [r["training"]["lossCurve"] for r in records]
        n = min(len(c) for c in cs)
        return [sum(c[i] for c in cs) / len(cs) for i in range(n)]
    curves = []
    for label, colour, records in (("spinebench", "#1f77b4", list(ours.values())),
                                   ("reference, our weights", "#2ca02c", list(ours_init.values())),
                                   ("reference, its weights", "#d62728", list(theirs.values()))):
        if not records:
            continue
        tr0 = records[0]["training"]
        spe, win = tr0["steps"] // tr0["epochs"], tr0["lossWindow"]
        sizes = [min(win, spe - i) for i in range(0, spe, win)]

        def full(xs, ys):
            """Drops the points of the short window that closes each epoch (3 steps at 375 a epoch): noise."""
            keep = [i for i in range(len(ys)) if sizes[i % len(sizes)] * 2 >= win]
            return [xs[i] for i in keep], [ys[i] for i in keep]
        x = lambda n: epochs_at(n, win, tr0["steps"] / tr0["epochs"])
        for r in records:
            lc = r["training"]["lossCurve"]
            curves.append((None, colour, 0.8, *full(x(len(lc)), lc)))
        m = mean_curve(records)
        curves.append((f"{label} ({len(records)} seeds)", colour, 2, *full(x(len(m)), m)))
    if curves:
        svg(curves, a.svg, "SpineNet-49 training loss: mean over seeds (bold), each seed (faint)")
        L += ["## Loss curves", "", f"![loss curves]({os.path.basename(a.svg)})", "",
              "Mean training loss (focal + box weight x Huber, without weight decay) per quarter epoch (the few "
              "steps left over at each epoch's end are not drawn). The "
              "reference divides by positives + 1, spinebench by positives: its curve sits 0.3-1% lower for that "
              "alone.", ""]

    L += ["## The first step on the same initial weights", ""]
    if os.path.exists(a.step):
        s = load(a.step)
        o, t, al = s["ours"], s["tfm"], s["tfm_with_our_normalizer"]
        rd, rs = s["relative_difference"], s["relative_difference_same_normalizer"]
        L += [f"spinebench's initial SpineNet-49 (seed {s['seed']}) loaded into the reference "
              "(`spinebench first-step` writes the weights, the first augmented batch and our figures; "
              "`bench/tensorflow/fidelity_step.py` maps them onto TFM's variables and repeats the step in "
              f"training mode). Batch of {s['batch']} images, {o['positives']} positive anchors.", "",
              "| | spinebench | reference (TFM normaliser) | rel. diff. | reference (our normaliser) | rel. diff. |",
              "|---|---|---|---|---|---|"]
        for k, label in (("total", "total loss"), ("focal", "focal loss"), ("huber", "Huber loss (before x box weight)"),
                         ("grad_norm", "gradient norm"), ("grad_norm_with_decay", "gradient norm with weight decay")):
            L.append(f"| {label} | {o[k]:.6f} | {t[k]:.6f} | {rd[k]:.1e} | {al[k]:.6f} | {rs[k]:.1e} |")
        if os.path.exists(a.step64):
            s64 = load(a.step64)
            r64 = s64["relative_difference_same_normalizer"]
            L.append(f"| reference in float64, our normaliser: rel. diff. | | | | | total {r64['total']:.1e}, "
                     f"focal {r64['focal']:.1e}, Huber {r64['huber']:.1e}, gradient norm {r64['grad_norm']:.1e} |")
        if "second_step" in s:
            sc = s["second_step"]
            r2 = sc["relative_difference"]
            r64 = (load(a.step64).get("second_step") or {}).get("relative_difference") if os.path.exists(a.step64) else None
            L += ["", f"After one update (learning rate {sc['learning_rate']:g}; spinebench's SGD on its gradients, Keras' "
                  "SGD with TFM's l2 weight decay and clip on the reference's, both under our normaliser), the loss of "
                  f"the second batch ({sc['positives']} positives): spinebench {sc['ours']['total']:.6f}, reference "
                  f"{sc['tfm_with_our_normalizer']['total']:.6f}; relative differences total {r2['total']:.1e}, focal "
                  f"{r2['focal']:.1e}, Huber {r2['huber']:.1e}"
                  + (f" (reference in float64: total {r64['total']:.1e}, Huber {r64['huber']:.1e})" if r64 else "") + "."]
        tg, ld, an = s["targets"], s.get("loader", {}), s["anchors"]
        L += ["", f"Normalisers: spinebench {o['normalizer']:g} (max(1, positives)), TFM {t['normalizer']:g} "
              "(positives + 1): the whole difference in the raw figures is that ratio.", ""]
        g = lambda d: (f"all gradients as one vector {d['gradient_relative_difference_all']:.1e}; per tensor "
                       f"({d['gradient_tensors_compared']}) median {d['gradient_relative_difference_per_tensor_median']:.1e}, "
                       f"largest {d['gradient_relative_difference_per_tensor_worst'][0]['relative']:.1e} "
                       f"(`{d['gradient_relative_difference_per_tensor_worst'][0]['name']}`)"
                       + (f"; the head's prediction convs (no batch norm behind them) at most "
                          f"{d['gradient_relative_difference_prediction_convs_max']:.1e}"
                          if "gradient_relative_difference_prediction_convs_max" in d else ""))
        L += [f"Gradients, relative difference to ours under the same normaliser: reference in float32: {g(s)}."]
        if os.path.exists(a.step64):
            e32, e64 = s["gradient_relative_difference_all"], s64["gradient_relative_difference_all"]
            L += [f"Reference in float64 (TFM's focal loss still computes in float32): {g(s64)}. Ours is closer to "
                  "the double-precision reference than the float32 reference is: by the triangle inequality the "
                  f"float32 reference is at least {e32 - e64:.1e} from the float64 one, {(e32 - e64) / e64:.1f}x our "
                  f"{e64:.1e}. What remains per tensor is float32 rounding, largest in the backbone, whose gradients "
                  "at initialisation are small (the prediction convs start at N(0, 1e-5)) and pass through batch "
                  "norms that subtract nearly equal terms."]
        L += ["",
              f"Targets: {tg['positives_ours']} positives from spinebench's matcher, {tg['positives_tfm']} from "
              f"TFM's labeler; {tg['anchors_with_different_class']} anchors with a different class; box targets "
              f"differ by at most {tg['max_abs_box_target_difference']:.1e}. Anchors: largest coordinate "
              "difference per level " + ", ".join(f"{k.split('_')[0]} {v:g} px" for k, v in an.items()) + ".", ""]
        if "initial_weights" in s:
            iw = s["initial_weights"]
            L += [f"Initial weights: over the {iw['tensors_compared']} tensors of 256 or more random values, the "
                  "standard deviation of ours over that of the reference's own draw has median "
                  f"{iw['sd_ratio_median']:.3f} (range {iw['sd_ratio_min']:.3f}-{iw['sd_ratio_max']:.3f}; sampling "
                  "alone spreads it by about 1/sqrt(2n), 4% at 256 values); constant tensors that differ: "
                  + (", ".join(f"`{n}`" for n in iw["constant_tensors_that_differ"]) or "none") + ".", ""]
        if "max_abs_pixel_difference" in ld:
            L += [f"Data: the reference's loader (`bench/tensorflow/spinedata.py`) made the same batch: same images "
                  f"{'yes' if ld['same_ids'] else 'NO'}, largest pixel difference {ld['max_abs_pixel_difference']:.1e}, "
                  f"largest box difference {fmt(ld['max_abs_box_difference'], 6)}, same labels "
                  f"{'yes' if ld['same_labels'] else 'NO'}.", ""]
    else:
        L += ["Not run yet.", ""]

    L += trajectory_section(a.trajectory, a.trajectory64)
    L += trained_section(a.trained, a.trained64)

    from tfm_retinanet import DEVIATIONS
    L += ["## Deviations that remain", "",
          "What the reference does differently from spinebench, and why (`bench/tensorflow/tfm_retinanet.py`):", ""]
    L += [f"{i + 1}. {d}" for i, d in enumerate(DEVIATIONS)]
    L.append("")
    with open(a.out, "w") as f:
        f.write("\n".join(L))
    print(f"wrote {a.out}" + (f" and {a.svg}" if curves else ""))


if __name__ == "__main__":
    main()
