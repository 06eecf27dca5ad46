"""Our HDF5 detection datasets and our training augmentation, in numpy, for the reference trainer.

The reference implementation (train_reference.py) must see the same data in the same order with the same
augmentation as a spinebench run of the same seed. This module repeats, draw for draw, what
`Sources/Datasets/DetectionLoader.swift`, `Augment.swift`, `Resize.swift` and `Sources/Common/SplitMix64.swift`
do: the per-epoch shuffle, the per-image flip, scale jitter and crop offsets, the bilinear resampling into the
square input, the pixel normalisation (v / 255 - 0.5) and the box clipping. fidelity_step.py checks it against
the first batch spinebench writes (`spinebench first-step`): the same images to float rounding, the same boxes.

Dataset layout: docs/design.md §6.
"""
import h5py
import numpy as np

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def _mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class SplitMix64:
    """The project's seeded generator (Sources/Common/SplitMix64.swift), on Python integers."""

    def __init__(self, seed, a=None, b=0, c=0):
        if a is None:
            self.state = seed & MASK
            return
        s = SplitMix64((seed ^ GOLDEN) & MASK)
        for v in (a, b, c):
            s.state ^= (v * 0xD1B54A32D192ED03) & MASK
            s.next()
        self.state = s.next()

    def next(self):
        self.state = (self.state + GOLDEN) & MASK
        return _mix(self.state)

    def uniform(self, lo=0.0, hi=1.0):
        return lo + (hi - lo) * ((self.next() >> 11) * 2.0 ** -53)

    def below(self, n):
        return self.next() % n

    def coin(self, p=0.5):
        return self.uniform() < p

    def permutation(self, n):
        p = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.below(i + 1)
            p[i], p[j] = p[j], p[i]
        return p


class Split:
    """One split of a dataset file, read whole (the proxy datasets are a few tens of MB)."""

    def __init__(self, path, name):
        with h5py.File(path, "r") as f:
            g = f[name]
            self.images = g["images"][...]
            self.boxes = g["boxes"][...].astype(np.float32)
            self.labels = g["labels"][...].astype(np.int64)
            self.offsets = g["box_offsets"][...].astype(np.int64)
            self.class_names = [c.decode() if isinstance(c, bytes) else str(c) for c in f.attrs["class_names"]]
        self.count, self.height, self.width, self.channels = self.images.shape

    def boxes_of(self, i):
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.boxes[a:b], self.labels[a:b]


def _axis(out_count, scale, offset, source_count):
    """Sources/Datasets/Resize.swift AxisTable: source indices, weights and the inside mask of each output pixel."""
    pos = np.arange(out_count, dtype=np.float64) + 0.5 - offset
    inside = (pos >= 0) & (pos <= source_count * scale)
    s = np.clip(pos / scale - 0.5, 0, source_count - 1)
    f = np.floor(s)
    i0 = f.astype(np.int64)
    i1 = np.minimum(i0 + 1, source_count - 1)
    return i0, i1, (s - f).astype(np.float32), inside


class Loader:
    """Batches of one split, as DetectionLoader makes them (training: shuffled, augmented, last partial batch
    dropped; evaluation: file order, fitted, no augmentation)."""

    def __init__(self, split, batch, output_size, training, seed, jitter=(0.8, 1.2), flip_probability=0.5,
                 min_box_side=1.0):
        self.split, self.batch, self.size, self.training, self.seed = split, batch, output_size, training, seed
        self.jitter, self.flip_probability, self.min_box_side = jitter, flip_probability, min_box_side

    @property
    def batches_per_epoch(self):
        n = self.split.count
        return n // self.batch if self.training else -(-n // self.batch)

    def order(self, epoch):
        if not self.training:
            return list(range(self.split.count))
        return SplitMix64(self.seed, 0x50FF1E, epoch).permutation(self.split.count)

    def transform(self, image_id, epoch):
        """(scale, offset_x, offset_y, flipped) of one image in one epoch."""
        w, h = self.split.width, self.split.height
        fit = self.size / max(w, h)
        if not self.training:
            return fit, 0.0, 0.0, False
        rng = SplitMix64(self.seed, 0xAC6, epoch, image_id)
        flipped = rng.coin(self.flip_probability)
        s = fit * rng.uniform(self.jitter[0], self.jitter[1])

        def offset(extent):
            spare = int(np.floor(extent - self.size))
            return -float(rng.below(spare + 1)) if spare > 0 else 0.0
        ox = offset(w * s)
        oy = offset(h * s)
        return s, ox, oy, flipped

    def warp(self, image, t):
        """uint8 HWC -> float32 size x size x C, normalised v / 255 - 0.5, 0 in the padding."""
        scale, ox, oy, flipped = t
        h, w, c = image.shape
        xi0, xi1, wx, xin = _axis(self.size, scale, ox, w)
        yi0, yi1, wy, yin = _axis(self.size, scale, oy, h)
        if flipped:
            xi0, xi1 = w - 1 - xi0, w - 1 - xi1
        img = image.astype(np.float32)
        r0, r1 = img[yi0], img[yi1]
        wx3 = wx[None, :, None]
        top = r0[:, xi0] + (r0[:, xi1] - r0[:, xi0]) * wx3
        bottom = r1[:, xi0] + (r1[:, xi1] - r1[:, xi0]) * wx3
        v = (top + (bottom - top) * wy[:, None, None]) * np.float32(1 / 255) + np.float32(-0.5)
        v[~yin] = 0
        v[:, ~xin] = 0
        return v.astype(np.float32)

    def boxes(self, image_id, t):
        """Boxes in input pixels (x1, y1, x2, y2), clipped; those narrower or shorter than the minimum side
        (training only) dropped."""
        scale, ox, oy, flipped = t
        b, l = self.split.boxes_of(image_id)
        b = b.copy()
        if flipped:
            w = np.float32(self.split.width)
            b[:, [0, 2]] = w - b[:, [2, 0]]
        s = np.float32(scale)
        b = b * s + np.array([ox, oy, ox, oy], dtype=np.float32)
        b = np.clip(b, 0, np.float32(self.size))
        keep = np.ones(len(b), bool)
        if self.training:
            keep = ((b[:, 2] - b[:, 0]) >= self.min_box_side) & ((b[:, 3] - b[:, 1]) >= self.min_box_side)
        return b[keep].astype(np.float32), l[keep]

    def make_batch(self, epoch, index):
        ids = self.order(epoch)[index * self.batch:(index + 1) * self.batch]
        images, boxes, labels, transforms = [], [], [], []
        for i in ids:
            t = self.transform(i, epoch)
            images.append(self.warp(self.split.images[i], t))
            b, l = self.boxes(i, t)
            boxes.append(b)
            labels.append(l)
            transforms.append(t)
        return np.stack(images), boxes, labels, ids, transforms
