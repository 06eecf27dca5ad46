// Datasets module overview (kept as a comment: a README.md here would be an unhandled SwiftPM resource).
//
// # Datasets
//
// HDF5 dataset files for spinebench: builders, a validating reader, and a batch loader. Depends only on
// libhdf5 (CHDF5) and zlib (CZlib); batches are plain `[Float]` plus box lists, no Engine types.
//
// ## File layout (format_version 1)
//
// One HDF5 file, readable by h5dump / h5py:
//
// | object | type | meaning |
// |---|---|---|
// | `/` attributes | | `name`, `builder` (kind), `class_names` (fixed-length string array), `source`, `seed` (int64, the UInt64 seed's bit pattern), `format_version` (1), `checksum`, `checksum_algorithm`, `builder_params` ("size=128 train=4000 ..."), `param_<key>` (int64 each) |
// | `/train`, `/val` | group | attribute `count` (int64) |
// | `images` | uint8 [N,H,W,C] | chunked [1,H,W,C] (one image per chunk, so one image is one read), uncompressed |
// | `boxes` | float32 [M,4] | x1, y1, x2, y2 in pixels of the stored image (pixel edges: a box over columns 3..5 is x1=3, x2=6) |
// | `labels` | int32 [M] | class index into `class_names` |
// | `box_offsets` | int64 [N+1] | image i owns rows `box_offsets[i] ..< box_offsets[i+1]`; starts at 0, ends at M |
//
// Classification files (`fmnist-cls`) use the same layout with exactly one box per image covering the whole
// image, labelled with the image's class, so the same loader reads them.
//
// **Checksum**: 64-bit FNV-1a over raw bytes, for split in (train, val): images (uint8, N,H,W,C row-major),
// boxes (float32 little-endian), labels (int32 LE), box_offsets (int64 LE). Stored as `fnv1a64:<16 hex digits>`.
// `spinebench data inspect` recomputes it.
//
// ## Builders (`spinebench data build KIND --out FILE.h5`)
//
// - `fmnist-det`: multi-object images from Debian's `dataset-fashion-mnist` (train objects from its train split,
//   val objects from t10k). Defaults: 128 px, 3 channels (items tinted), 4000 train / 500 val, 1..6 objects.
// - `shapes`: the same images from seeded synthetic shapes (8 classes), needs no installed files.
// - `fmnist-cls`: the Fashion-MNIST items themselves, 28 px gray, 10000 / 2000 (first items of each split).
//
// Object sides (sqrt of the drawn area) are log-uniform in [min_side, max_side] (default size/6 to 3/4 of size),
// so every octave, hence every pyramid level, gets the same share (docs/geometry.md §4); aspect ratio the item's
// own times a log-uniform factor in [0.75, 4/3], width and height at most 0.9*size.
// Objects are pasted largest first (small ones stay visible), with IoU <= 0.3 between pasted patches; boxes are
// tight around the pasted mask (coverage >= 0.2). Background: dark base colour, gradient, coarse value noise,
// per-pixel noise. Every image has its own RNG stream (seed, split, index): the bytes do not depend on threads.
// Files are built in memory and written through Common's DurableFile (temporary file, fsync, rename).
//
// ## Loader
//
// `DetectionLoader` reads images one hyperslab at a time (never the whole file). Training mode: per-epoch
// permutation and per-image augmentation from SplitMix64 streams keyed by (seed, epoch, image), so batches do
// not depend on thread timing; horizontal flip (p 0.5), scale jitter [0.8, 1.2] on top of the fit-to-output
// scale, bilinear resize (half-pixel centres), random crop when larger than the output, top-left placement
// with padding when smaller; boxes transformed, clipped, and dropped when under 1 px wide or high.
// Evaluation mode: file order, fit-to-output scale only, top-left, last batch may be short. Normalisation:
// `v/255 - 0.5` (default) or per-channel `(v/255 - mean)/std`; padding is 0 after normalisation.
// A prefetch thread fills a bounded queue (default depth 2) while the caller trains.
// All libhdf5 calls go through one process-wide lock (Debian's libhdf5 is not thread-safe).
