/// Convolution kernels: TF "SAME" geometry, im2col + sgemm forward, col2im backward.

/// TF "SAME" geometry along one axis: out = ceil(in/s), pad_total = max((out-1)*s + k - in, 0),
/// pad_before = pad_total/2 (the odd extra row/column goes after, at bottom/right).
public struct SamePadding: Equatable, Sendable {
    public let output: Int
    public let before: Int
    public init(input: Int, kernel: Int, stride: Int) {
        output = (input + stride - 1) / stride
        let total = max((output - 1) * stride + kernel - input, 0)
        before = total / 2
    }
}

struct ConvGeometry {
    let n: Int, h: Int, w: Int, cin: Int, k: Int, stride: Int, cout: Int
    let ho: Int, wo: Int, padTop: Int, padLeft: Int
    var kkc: Int { k * k * cin }
    var rowsPerImage: Int { ho * wo }

    init(x: [Int], w wShape: [Int], stride: Int) {
        precondition(x.count == 4, "conv2d: input must be NHWC rank 4, got shape \(x)")
        precondition(wShape.count == 4, "conv2d: weight must be HWIO [k,k,cin,cout], got shape \(wShape)")
        precondition(wShape[0] == wShape[1] && wShape[0] % 2 == 1,
                     "conv2d: kernel must be square and odd, got \(wShape[0])x\(wShape[1])")
        precondition(wShape[2] == x[3], "conv2d: input has \(x[3]) channels, weight \(wShape) expects \(wShape[2])")
        precondition(stride == 1 || stride == 2, "conv2d: stride must be 1 or 2, got \(stride)")
        n = x[0]; h = x[1]; w = x[2]; cin = x[3]; k = wShape[0]; self.stride = stride; cout = wShape[3]
        let py = SamePadding(input: h, kernel: k, stride: stride)
        let px = SamePadding(input: w, kernel: k, stride: stride)
        ho = py.output; wo = px.output; padTop = py.before; padLeft = px.before
    }

    /// Profile row of this conv kind (head convs are the ones with a bias).
    func profileName(bias: Bool) -> StaticString {
        switch (k, stride, bias) {
        case (1, 1, false): return "conv1x1"
        case (1, 2, false): return "conv1x1 s2"
        case (3, 1, false): return "conv3x3 s1"
        case (3, 2, false): return "conv3x3 s2"
        case (3, 1, true): return "conv3x3 s1 +bias"
        case (7, 2, false): return "conv7x7 s2"
        default: return bias ? "conv other +bias" : "conv other"
        }
    }

    /// Pointwise stride 1: the NHWC input already is the [N*H*W, Cin] matrix.
    var isPointwise: Bool { k == 1 && stride == 1 }

    /// Images per im2col batch: the column buffer stays under ~32 MB and chunks are balanced
    /// (16 images at a 14-image limit become 8 + 8, not 14 + 2).
    var imagesPerChunk: Int {
        if n == 0 { return 1 }
        let limit = max(1, min(n, (8 << 20) / max(1, rowsPerImage * kkc)))
        let chunks = (n + limit - 1) / limit
        return (n + chunks - 1) / chunks
    }

    /// Taps of one kernel row that land inside the image for output column ox: kx in lo..<hi.
    /// In NHWC those taps are one contiguous run of (hi-lo)*cin floats, so each kernel row is one copy.
    @inline(__always)
    func validTaps(_ ox: Int) -> (ix0: Int, lo: Int, hi: Int) {
        let ix0 = ox * stride - padLeft
        return (ix0, max(0, -ix0), max(max(0, -ix0), min(k, w - ix0)))
    }

    /// Output rows per im2col block in forward and in the weight gradient: one block's columns (~512 KB)
    /// stay in L2 between being built and being multiplied, instead of going out to memory and back. A
    /// multiple of batch norm's 64-row chunks, so a batch norm can take its moments block by block.
    var blockRows: Int {
        let chunk = Reduce.grainRows
        return min(rowsPerImage, max(chunk, (128 << 10) / kkc / chunk * chunk))
    }
    var blocksPerImage: Int { (rowsPerImage + blockRows - 1) / blockRows }

    /// Output rows of block b of an image.
    func blockRange(_ b: Int) -> Range<Int> { (b * blockRows)..<min(rowsPerImage, (b + 1) * blockRows) }

    /// Fills col [rows.count, k*k*cin] with one image's windows for output rows `rows` (row = oy*wo + ox;
    /// zeros where a window hangs over the padding).
    func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        let rowLen = k * cin
        var dst = col
        for r in rows {
            let oy = r / wo, ox = r % wo
            let (ix0, lo, hi) = validTaps(ox)
            for ky in 0..<k {
                let iy = oy * stride - padTop + ky
                if iy < 0 || iy >= h {
                    dst.update(repeating: 0, count: rowLen)
                } else {
                    if lo > 0 { dst.update(repeating: 0, count: lo * cin) }
                    (dst + lo * cin).update(from: x + (iy * w + ix0 + lo) * cin, count: (hi - lo) * cin)
                    if hi < k { (dst + hi * cin).update(repeating: 0, count: (k - hi) * cin) }
                }
                dst += rowLen
            }
        }
    }

    /// Fills col [ho*wo, k*k*cin] for one whole image.
    func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>) {
        im2col(x, col, rows: 0..<rowsPerImage)
    }

    /// dx (one image, must start zeroed) += scatter of col [ho*wo, k*k*cin].
    func col2im(_ col: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
        let kkc = self.kkc, rowLen = k * cin
        for oy in 0..<ho {
            for ox in 0..<wo {
                let (ix0, lo, hi) = validTaps(ox)
                var src = col + (oy * wo + ox) * kkc
                for ky in 0..<k {
                    let iy = oy * stride - padTop + ky
                    if iy >= 0 && iy < h {
                        let d = dx + (iy * w + ix0 + lo) * cin, s = src + lo * cin
                        for j in 0..<((hi - lo) * cin) { d[j] += s[j] }
                    }
                    src += rowLen
                }
            }
        }
    }
}

/// Engine-wide convolution settings. Benchmarks turn Winograd off to measure what it buys.
public enum Convolution {
    /// 3x3 stride-1 convs with enough tiles run as Winograd F(4,3) / F(2,3) (see Winograd.swift).
    nonisolated(unsafe) public static var winograd = true
}

enum ConvKernels {
    /// y [N,Ho,Wo,Cout] = conv(x, w) (+ bias). 3x3 stride-1 convs with enough tiles go through Winograd
    /// (`winograd: false` forces im2col); other convs build their im2col columns a block of rows at a time.
    /// `eachBlock(rows, y)`, for an im2col conv, runs on each block of output rows (rows of the whole [N*Ho*Wo]
    /// output, y at the first) right after the block is computed, while it is in cache; blocks run in parallel.
    static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                        winograd: Bool = Convolution.winograd,
                        eachBlock: ((Range<Int>, UnsafeMutablePointer<Float>) -> Void)? = nil) {
        if winograd, let wino = Winograd.variant(for: g) {
            WinogradConv.forward(g, wino, x: x, w: w, bias: bias, y: y)
            return
        }
        if g.isPointwise {
            sgemm(m: g.n * g.h * g.w, n: g.cout, k: g.cin, x, lda: g.cin, w, ldb: g.cout, y, ldc: g.cout)
        } else {
            // Each task builds one block of columns and multiplies it on its own thread while it is in cache.
            let bpi = g.blocksPerImage, rows = g.rowsPerImage, kkc = g.kkc
            let xP = UncheckedBox(x), wP = UncheckedBox(w), yP = SendablePtr(y)
            Threads.parallelFor(g.n * bpi) { t in
                let image = t / bpi, range = g.blockRange(t % bpi)
                let col = UnsafeMutablePointer<Float>.allocate(capacity: range.count * kkc)
                defer { col.deallocate() }
                g.im2col(xP.value + image * g.h * g.w * g.cin, col, rows: range)
                let first = image * rows + range.lowerBound, out = yP.p + first * g.cout
                sgemmPart(false, false, range.count, g.cout, kkc, 1, col, kkc, wP.value, g.cout, 0, out, g.cout)
                eachBlock?(first..<(first + range.count), out)
            }
        }
        if let bias {
            let yP = SendablePtr(y), bP = UncheckedBox(bias)
            Threads.parallelChunks(g.n * g.rowsPerImage, grain: 64) { _, r in
                addBias(yP.p + r.lowerBound * g.cout, rows: r.count, channels: g.cout, bP.value)
            }
        }
    }

    /// dw = sum col^T dy, dx = col2im(dy w^T); either output may be skipped.
    static func backward(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                         dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?,
                         winograd: Bool = Convolution.winograd) {
        if winograd, let wino = Winograd.variant(for: g) {
            WinogradConv.backward(g, wino, x: x, w: w, dy: dy, dx: dx, dw: dw)
            return
        }
        if g.isPointwise {
            let m = g.n * g.h * g.w
            if let dw { sgemm(transA: true, m: g.cin, n: g.cout, k: m, x, lda: g.cin, dy, ldb: g.cout, dw, ldc: g.cout) }
            if let dx { sgemm(transB: true, m: m, n: g.cin, k: g.cout, dy, lda: g.cout, w, ldb: g.cout, dx, ldc: g.cin) }
            return
        }
        let per = g.imagesPerChunk, rows = g.rowsPerImage, kkc = g.kkc, imageSize = g.h * g.w * g.cin
        if dx == nil {
            if let dw { weightGradient(g, x: x, dy: dy, dw: dw) }
            return
        }
        let col = UnsafeMutablePointer<Float>.allocate(capacity: per * rows * kkc)
        defer { col.deallocate() }
        let colP = SendablePtr(col), xP = SendablePtr(UnsafeMutablePointer(mutating: x))
        if let dx { dx.update(repeating: 0, count: g.n * imageSize) }
        var start = 0
        while start < g.n {
            let count = min(per, g.n - start)
            let s0 = start
            let dyChunk = dy + start * rows * g.cout
            if let dw {
                Threads.parallelFor(count) { i in g.im2col(xP.p + (s0 + i) * imageSize, colP.p + i * rows * kkc) }
                sgemm(transA: true, m: kkc, n: g.cout, k: count * rows, col, lda: kkc, dyChunk, ldb: g.cout,
                      beta: start == 0 ? 0 : 1, dw, ldc: g.cout)
            }
            if let dx {
                sgemm(transB: true, m: count * rows, n: kkc, k: g.cout, dyChunk, lda: g.cout, w, ldb: g.cout,
                      col, ldc: kkc)
                let dxP = SendablePtr(dx)
                Threads.parallelFor(count) { i in g.col2im(colP.p + i * rows * kkc, dxP.p + (s0 + i) * imageSize) }
            }
            start += count
        }
    }

    /// dw = sum over blocks of col^T dy with each block's columns built in cache (the stem: its input needs
    /// no gradient, so no full column matrix is ever held). Blocks go to a fixed number of parts by shape,
    /// each part accumulates its blocks in order and the parts are summed in order: the same bits for any
    /// thread count.
    static func weightGradient(_ g: ConvGeometry, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dw: UnsafeMutablePointer<Float>) {
        let rows = g.rowsPerImage, dyP = UncheckedBox(dy)
        weightGradient(g, x: x, dw: dw) { image, range, _ in dyP.value + (image * rows + range.lowerBound) * g.cout }
    }

    /// The same with each block's dy made on demand: `dyBlock(image, rows, scratch)` returns the block's
    /// [rows.count, cout] gradient, either in place or written to scratch (room for one block), so a fused
    /// backward can make dy in cache right before the product instead of writing the whole of it first.
    static func weightGradient(_ g: ConvGeometry, x: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>,
                               dyBlock: (Int, Range<Int>, UnsafeMutablePointer<Float>) -> UnsafePointer<Float>) {
        let bpi = g.blocksPerImage, kkc = g.kkc, size = kkc * g.cout
        let blocks = g.n * bpi, parts = min(8, blocks)
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: parts * size)
        defer { partials.deallocate() }
        let xP = UncheckedBox(x), pP = SendablePtr(partials)
        withoutActuallyEscaping(dyBlock) { dyBlock in
            let dyB = UncheckedBox(dyBlock)
            Threads.parallelFor(parts) { p in
                let col = UnsafeMutablePointer<Float>.allocate(capacity: g.blockRows * kkc)
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: g.blockRows * g.cout)
                defer { col.deallocate(); scratch.deallocate() }
                for t in (p * blocks / parts)..<((p + 1) * blocks / parts) {
                    let image = t / bpi, range = g.blockRange(t % bpi)
                    g.im2col(xP.value + image * g.h * g.w * g.cin, col, rows: range)
                    sgemmPart(true, false, kkc, g.cout, range.count, 1, col, kkc, dyB.value(image, range, scratch), g.cout,
                              t == p * blocks / parts ? 0 : 1, pP.p + p * size, g.cout)
                }
            }
        }
        Reduce.sumParts(partials, count: parts, size: size, into: dw)
    }

    static func addBias(_ y: UnsafeMutablePointer<Float>, rows: Int, channels: Int, _ b: UnsafePointer<Float>) {
        for r in 0..<rows {
            let row = y + r * channels
            for c in 0..<channels { row[c] += b[c] }
        }
    }

    /// db[c] = sum over rows of dy[r,c], fixed chunks then in order (thread-count independent).
    static func biasGrad(_ dy: UnsafePointer<Float>, rows: Int, channels: Int, _ db: UnsafeMutablePointer<Float>) {
        let sums = Reduce.channelSums(rows: rows, channels: channels, width: 1) { r, acc in
            let row = dy + r * channels
            for c in 0..<channels { acc[c] += row[c] }
        }
        for c in 0..<channels { db[c] = Float(sums[c]) }
    }
}

enum Reduce {
    static let grainRows = 64

    /// Per-channel sums over rows: body(row, acc) adds row's terms into acc[0..<channels*width] (Float,
    /// within a fixed 64-row chunk); chunks are combined in order in Double.
    static func channelSums(rows: Int, channels: Int, width: Int,
                            _ body: (Int, UnsafeMutablePointer<Float>) -> Void) -> [Double] {
        let w = channels * width
        let chunks = (rows + grainRows - 1) / grainRows
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: max(1, chunks * w))
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: max(1, chunks * w))
        let pp = SendablePtr(partial)
        Threads.parallelChunks(rows, grain: grainRows) { c, range in
            let acc = pp.p + c * w
            for r in range { body(r, acc) }
        }
        return sumRows(partial, rows: chunks, width: w)
    }

    /// out[j] = the sum over rows r of partial[r * width + j], added in row order in Double: how per-chunk
    /// partial sums are combined. Through pointers, so it vectorises (it runs on one thread).
    static func sumRows(_ partial: UnsafePointer<Float>, rows: Int, width: Int) -> [Double] {
        [Double](unsafeUninitializedCapacity: width) { buf, initialized in
            let out = buf.baseAddress!
            out.initialize(repeating: 0, count: width)
            for r in 0..<rows {
                let p = partial + r * width
                for j in 0..<width { out[j] += Double(p[j]) }
            }
            initialized = width
        }
    }

    /// out[j] = the sum over parts p of parts[p * size + j], added in part order (the same bits for any
    /// thread count): how per-item partial sums, e.g. of a weight gradient, are combined.
    static func sumParts(_ parts: UnsafePointer<Float>, count: Int, size: Int, into out: UnsafeMutablePointer<Float>) {
        let pP = UncheckedBox(parts), oP = SendablePtr(out)
        // part by part over a run of entries: the inner loop vectorises, each entry still adds in part order
        Threads.parallelChunks(size, grain: 2048) { _, r in
            let o = oP.p + r.lowerBound
            o.update(from: pP.value + r.lowerBound, count: r.count)
            for part in 1..<max(1, count) {
                let src = pP.value + part * size + r.lowerBound
                for j in 0..<r.count { o[j] += src[j] }
            }
        }
    }

    /// Sum of body(range) over fixed chunks of 0..<n, combined in chunk order.
    static func sumChunks(_ n: Int, grain: Int, _ body: (Range<Int>) -> Double) -> Double {
        if n == 0 { return 0 }
        var partial = [Double](repeating: 0, count: (n + grain - 1) / grain)
        partial.withUnsafeMutableBufferPointer { buf in
            let pp = UncheckedBox(buf.baseAddress!)
            Threads.parallelChunks(n, grain: grain) { c, range in pp.value[c] = body(range) }
        }
        return partial.reduce(0, +)
    }

    /// Sum of f(i) over 0..<n, in fixed chunks (Double within and across chunks).
    static func sum(_ n: Int, grain: Int = 4096, _ f: (Int) -> Double) -> Double {
        sumChunks(n, grain: grain) { range in
            var s = 0.0
            for i in range { s += f(i) }
            return s
        }
    }
}
