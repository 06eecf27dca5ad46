#!/usr/bin/env python3
"""Regenerates coco_cases.json: COCO bbox evaluation cases and the answers of the official COCO API.

NEEDS pycocotools (pip install pycocotools numpy). The Swift tests only read the JSON this writes.
Run from anywhere: python3 make_coco_cases.py
Each case: name, area_scale, gt (COCO annotation dict), dets (COCO results list), stats (the 12
numbers of COCOeval.summarize(), in its order)."""
import contextlib, io, json, os, random
import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def score(gt, dets, area_scale=1.0):
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = json.loads(json.dumps(gt))
        coco.createIndex()
        res = coco.loadRes(json.loads(json.dumps(dets)))
        ev = COCOeval(coco, res, "bbox")
        s, l = 32 ** 2 * area_scale, 96 ** 2 * area_scale
        ev.params.areaRng = [[0, 1e5 ** 2], [0, s], [s, l], [l, 1e5 ** 2]]
        ev.evaluate(); ev.accumulate(); ev.summarize()
    return [float(x) for x in ev.stats]


def r2(x):
    return round(x, 2)


class Builder:
    def __init__(self, n_images, n_cats, size=640):
        self.gt = {"images": [{"id": i + 1, "width": size, "height": size, "file_name": f"{i + 1}.jpg"}
                              for i in range(n_images)],
                   "annotations": [], "categories": [{"id": c + 1, "name": f"c{c + 1}"} for c in range(n_cats)]}
        self.dets = []

    def add_gt(self, img, cat, box, crowd=0, area=None):
        a = box[2] * box[3] if area is None else area
        self.gt["annotations"].append({"id": len(self.gt["annotations"]) + 1, "image_id": img, "category_id": cat,
                                       "bbox": box, "area": a, "iscrowd": crowd})

    def add_det(self, img, cat, box, s):
        self.dets.append({"image_id": img, "category_id": cat, "bbox": box, "score": s})


def rand_box(rng, lo=4, hi=300, size=640):
    w, h = r2(rng.uniform(lo, hi)), r2(rng.uniform(lo, hi))
    return [r2(rng.uniform(0, size - w)), r2(rng.uniform(0, size - h)), w, h]


def jitter(rng, b, amount):
    x, y, w, h = b
    return [r2(x + rng.gauss(0, amount * w)), r2(y + rng.gauss(0, amount * h)),
            r2(max(0.5, w * (1 + rng.gauss(0, amount)))), r2(max(0.5, h * (1 + rng.gauss(0, amount))))]


def random_case(seed, n_images, n_cats, max_gt, fp_rate, amount, crowd_p=0.0, score_levels=None, lo=4, hi=300):
    rng = random.Random(seed)
    b = Builder(n_images, n_cats)
    for img in range(1, n_images + 1):
        for _ in range(rng.randint(0, max_gt)):
            cat = rng.randint(1, n_cats)
            box = rand_box(rng, lo, hi)
            crowd = 1 if rng.random() < crowd_p else 0
            b.add_gt(img, cat, box, crowd)
            for _ in range(rng.choice([0, 1, 1, 1, 2])):
                s = rng.random() if score_levels is None else rng.choice(score_levels)
                b.add_det(img, cat, jitter(rng, box, amount), r2(s) if score_levels is None else s)
        for _ in range(rng.randint(0, fp_rate)):
            s = rng.random() if score_levels is None else rng.choice(score_levels)
            b.add_det(img, rng.randint(1, n_cats), rand_box(rng, lo, hi), r2(s) if score_levels is None else s)
    return b


def cases():
    out = []

    def add(name, b, area_scale=1.0):
        if not b.dets:
            raise ValueError("pycocotools cannot load an empty results list")
        out.append({"name": name, "area_scale": area_scale, "gt": b.gt, "dets": b.dets,
                    "stats": score(b.gt, b.dets, area_scale)})

    for seed in range(6):
        add(f"random-{seed}", random_case(seed, n_images=8, n_cats=4, max_gt=6, fp_rate=4, amount=0.08))
    add("random-crowd", random_case(10, n_images=10, n_cats=3, max_gt=8, fp_rate=5, amount=0.1, crowd_p=0.25))
    add("random-ties", random_case(11, n_images=10, n_cats=3, max_gt=6, fp_rate=6, amount=0.1,
                                   score_levels=[0.9, 0.5, 0.5, 0.3]))
    add("random-tiny-huge", random_case(12, n_images=12, n_cats=2, max_gt=6, fp_rate=3, amount=0.1, lo=1, hi=640))
    add("random-area-scale-0.25", random_case(13, n_images=10, n_cats=3, max_gt=6, fp_rate=4, amount=0.08),
        area_scale=0.25)
    add("random-area-scale-0.1", random_case(14, n_images=10, n_cats=3, max_gt=6, fp_rate=4, amount=0.08, lo=2,
                                             hi=120), area_scale=0.1)

    # Duplicates: several detections on the same object, identical boxes included.
    b = Builder(2, 2)
    b.add_gt(1, 1, [10, 10, 50, 50]); b.add_gt(1, 1, [100, 100, 40, 60]); b.add_gt(2, 2, [0, 0, 200, 100])
    for s in [0.9, 0.8, 0.8, 0.7]:
        b.add_det(1, 1, [10, 10, 50, 50], s)
    b.add_det(1, 1, [102, 101, 40, 58], 0.85); b.add_det(1, 1, [102, 101, 40, 58], 0.6)
    b.add_det(2, 2, [5, 0, 200, 100], 0.4); b.add_det(2, 2, [0, 0, 200, 100], 0.3)
    add("duplicates", b)

    # Crowd regions: detections inside a crowd box are ignored, repeatedly; crowd IoU uses the detection area.
    b = Builder(2, 1)
    b.add_gt(1, 1, [0, 0, 300, 300], crowd=1); b.add_gt(1, 1, [400, 400, 100, 100])
    for i in range(5):
        b.add_det(1, 1, [20 + 40 * i, 20, 30, 30], 0.9 - 0.1 * i)
    b.add_det(1, 1, [400, 400, 100, 100], 0.55); b.add_det(1, 1, [250, 250, 100, 100], 0.95)
    b.add_gt(2, 1, [50, 50, 60, 60], crowd=1); b.add_det(2, 1, [50, 50, 60, 60], 0.99)
    add("crowd", b)

    # Only crowd ground truth in one category: that category has nothing to score (-1 entries).
    b = Builder(1, 2)
    b.add_gt(1, 1, [0, 0, 100, 100], crowd=1); b.add_det(1, 1, [0, 0, 100, 100], 0.9)
    b.add_gt(1, 2, [200, 200, 50, 50]); b.add_det(1, 2, [200, 200, 50, 40], 0.8)
    add("crowd-only-category", b)

    # Empty images, categories with no detections, categories with no ground truth.
    b = Builder(6, 4)
    b.add_gt(1, 1, [10, 10, 100, 100]); b.add_gt(2, 1, [20, 30, 40, 50]); b.add_gt(2, 2, [300, 300, 80, 80])
    b.add_det(1, 1, [12, 10, 100, 98], 0.9); b.add_det(2, 1, [20, 30, 40, 50], 0.4)
    b.add_det(3, 1, [0, 0, 50, 50], 0.95)              # detection on an image without objects
    b.add_det(4, 3, [0, 0, 50, 50], 0.7)               # category 3 has no ground truth anywhere
    b.add_det(1, 9, [10, 10, 100, 100], 0.99)          # category 9 is not in the ground truth: dropped
    add("empty-and-missing", b)

    # More than 100 detections per image and category: the cut at 100 (and 1, 10) matters.
    rng = random.Random(20)
    b = Builder(2, 2)
    for img in (1, 2):
        gts = [rand_box(rng, 20, 80) for _ in range(30)]
        for g in gts:
            b.add_gt(img, 1, g)
        for j in range(160):
            if j % 3 == 0:
                b.add_det(img, 1, jitter(rng, gts[(j // 3) % 30], 0.05), r2(rng.random()))
            else:
                b.add_det(img, 1, rand_box(rng, 20, 80), r2(rng.random()))
        b.add_gt(img, 2, [0, 0, 10, 10])
        for j in range(120):
            b.add_det(img, 2, [0.1 * j, 0, 10, 10], 0.5)   # all tied
    add("over-100-per-image", b)

    # Boxes at the area boundaries (inclusive on both sides), tiny and huge boxes, and an `area`
    # field that differs from w*h (COCO stores the mask area there).
    b = Builder(3, 2)
    b.add_gt(1, 1, [0, 0, 32, 32]); b.add_det(1, 1, [0, 0, 32, 32], 0.9)
    b.add_gt(1, 1, [100, 100, 96, 96]); b.add_det(1, 1, [100, 100, 96, 96], 0.8)
    b.add_gt(1, 1, [300, 300, 1, 1]); b.add_det(1, 1, [300, 300, 1, 1], 0.7)
    b.add_gt(1, 2, [0, 0, 640, 640]); b.add_det(1, 2, [0, 0, 600, 640], 0.6)
    b.add_gt(2, 1, [10, 10, 40, 40], area=900); b.add_det(2, 1, [10, 10, 40, 40], 0.9)
    b.add_gt(2, 1, [200, 200, 20, 20], area=2000); b.add_det(2, 1, [200, 200, 20, 20], 0.85)
    b.add_det(2, 1, [400, 400, 10, 10], 0.95)          # small false positive
    b.add_det(2, 1, [400, 400, 200, 200], 0.97)        # large false positive
    b.add_gt(3, 2, [0, 0, 33, 31]); b.add_det(3, 2, [1, 0, 33, 31], 0.5)
    add("area-boundaries", b)

    # IoU exactly on thresholds: 0.75 (75x100 in 100x100), 0.5, 0.95.
    b = Builder(1, 1)
    b.add_gt(1, 1, [0, 0, 100, 100]); b.add_det(1, 1, [0, 0, 75, 100], 0.9)
    b.add_gt(1, 1, [200, 0, 100, 100]); b.add_det(1, 1, [200, 0, 50, 100], 0.8)
    b.add_gt(1, 1, [400, 0, 100, 100]); b.add_det(1, 1, [400, 0, 95, 100], 0.7)
    b.add_gt(1, 1, [0, 200, 100, 100]); b.add_det(1, 1, [0, 200, 80, 100], 0.6)
    add("iou-on-thresholds", b)

    # A lower-scoring detection is the better match; greedy matching by score gives the box to the first.
    b = Builder(1, 1)
    b.add_gt(1, 1, [0, 0, 100, 100]); b.add_gt(1, 1, [60, 0, 100, 100])
    b.add_det(1, 1, [30, 0, 100, 100], 0.9); b.add_det(1, 1, [0, 0, 100, 100], 0.8)
    b.add_det(1, 1, [60, 0, 100, 100], 0.7)
    add("greedy-order", b)

    # Perfect detections.
    b = random_case(30, n_images=6, n_cats=3, max_gt=5, fp_rate=0, amount=0.0)
    b.dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}
              for a in b.gt["annotations"]]
    add("perfect", b)

    # A larger random set (exercises the accumulation across many images).
    add("random-large", random_case(40, n_images=60, n_cats=5, max_gt=10, fp_rate=8, amount=0.1, crowd_p=0.05,
                                    lo=2, hi=400))
    return out


if __name__ == "__main__":
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "coco_cases.json")
    data = cases()
    with open(path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
    for c in data:
        print(f"{c['name']:24s}", " ".join(f"{x:.4f}" for x in c["stats"]))
    print("wrote", path, os.path.getsize(path), "bytes")
