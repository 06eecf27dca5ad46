import CBLAS

/// Winograd minimal filtering F(m x m, 3 x 3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
/// Networks", 2016) for 3x3 stride-1 "SAME" convolutions. An m x m output tile is read from a t x t input
/// tile (t = m + 2); in the transformed domain the t^2 positions are independent products of
/// [tiles, Cin] x [Cin, Cout], so a tile costs t^2 instead of 9 m^2 multiplies per channel pair
/// (F(2,3): 2.25x fewer, F(4,3): 4x fewer) plus transforms that grow with Cin + Cout, not Cin * Cout.
///
/// Forward:      Y = A^T [ (G w G^T) . (B^T x B) ] A per tile.
/// Input grad:   the same correlation of dy with the kernel flipped and its channels swapped.
/// Weight grad:  dU = sum over tiles of (B^T x B) . (A dy A^T), then dw = G^T dU G.
struct Winograd: Sendable {
    let m: Int, t: Int
    // The transforms in matrix form: the definition of the variant, and the reference the written-out
    // kernels of `tiles` are tested against.
    let input: Sandwich        // B^T: t x t
    let filter: Sandwich       // G: t x 3
    let output: Sandwich       // A^T: m x t
    let outputGrad: Sandwich   // A: t x m
    let filterGrad: Sandwich   // G^T: 3 x t
    /// Which written-out kernels (WinogradTiles) compute these transforms.
    let tiles: WinogradTiles.Kind

    init(m: Int, bt: [Float], g: [Float], at: [Float]) {
        let t = m + 2
        self.m = m; self.t = t
        tiles = m == 2 ? .f2 : .f4
        input = Sandwich(bt, rows: t, cols: t)
        filter = Sandwich(g, rows: t, cols: 3)
        output = Sandwich(at, rows: m, cols: t)
        outputGrad = Sandwich(Self.transpose(at, rows: m, cols: t), rows: t, cols: m)
        filterGrad = Sandwich(Self.transpose(g, rows: t, cols: 3), rows: 3, cols: t)
    }

    static func transpose(_ a: [Float], rows: Int, cols: Int) -> [Float] {
        (0..<(rows * cols)).map { i in a[(i % rows) * cols + i / rows] }
    }

    /// Interpolation points 0, 1, -1 and infinity.
    static let f2 = Winograd(
        m: 2,
        bt: [1, 0, -1, 0,
             0, 1, 1, 0,
             0, -1, 1, 0,
             0, 1, 0, -1],
        g: [1, 0, 0,
            0.5, 0.5, 0.5,
            0.5, -0.5, 0.5,
            0, 0, 1],
        at: [1, 1, 1, 0,
             0, 1, -1, -1])

    /// Interpolation points 0, 1, -1, 2, -2 and infinity.
    static let f4 = Winograd(
        m: 4,
        bt: [4, 0, -5, 0, 1, 0,
             0, -4, -4, 1, 1, 0,
             0, 4, -4, -1, 1, 0,
             0, -2, -1, 2, 1, 0,
             0, 2, -1, -2, 1, 0,
             0, 4, 0, -5, 0, 1],
        g: [1.0 / 4, 0, 0,
            -1.0 / 6, -1.0 / 6, -1.0 / 6,
            -1.0 / 6, 1.0 / 6, -1.0 / 6,
            1.0 / 24, 1.0 / 12, 1.0 / 6,
            1.0 / 24, -1.0 / 12, 1.0 / 6,
            0, 0, 1],
        at: [1, 1, 1, 1, 1, 0,
             0, 1, -1, 2, -2, 0,
             0, 1, 1, 4, 4, 0,
             0, 1, -1, 8, -8, 1])

    /// The variant for a conv, or nil where im2col is better: only 3x3 stride 1 with at least 8 channels each
    /// way, and only with at least 48 output tiles, so the per-call filter transform (which grows with
    /// Cin * Cout) is paid back. F(4,3) first; F(2,3) where F(4,3) would leave too few tiles (4x4 maps).
    static func variant(for g: ConvGeometry) -> Winograd? {
        guard g.k == 3, g.stride == 1, g.h >= 2, g.w >= 2, g.cin >= 8, g.cout >= 8 else { return nil }
        let candidates = min(g.h, g.w) >= 4 ? [f4, f2] : [f2]
        return candidates.first { w in g.n * ((g.h + w.m - 1) / w.m) * ((g.w + w.m - 1) / w.m) >= 48 }
    }
}

/// out = P in P^T for a stack of s x s matrices whose entries are vectors of `len` floats:
/// out[a][b] = sum_ij P[a][i] in[i][j] P[b][j], for any transform matrix P. The engine runs the written-out
/// kernels of WinogradTiles; this general form defines what they must compute and is what tests check them by.
struct Sandwich: Sendable {
    let rows: Int, cols: Int
    /// Row a of P: its nonzero entries (column, value) at terms[start[a]..<start[a+1]].
    let start: [Int], column: [Int], value: [Float]

    init(_ p: [Float], rows: Int, cols: Int) {
        precondition(p.count == rows * cols)
        self.rows = rows; self.cols = cols
        var start = [0], column: [Int] = [], value: [Float] = []
        for a in 0..<rows {
            for i in 0..<cols where p[a * cols + i] != 0 { column.append(i); value.append(p[a * cols + i]) }
            start.append(column.count)
        }
        self.start = start; self.column = column; self.value = value
    }

    /// Scratch floats `apply` needs for vectors of `len`.
    func scratch(len: Int) -> Int { rows * cols * len }

    /// Input entry (i, j) at src + i*srcRow + j*srcCol; output entry (a, b) at dst + a*dstRow + b*dstCol.
    func apply(_ src: UnsafePointer<Float>, srcRow: Int, srcCol: Int,
               _ dst: UnsafeMutablePointer<Float>, dstRow: Int, dstCol: Int,
               len: Int, scratch mid: UnsafeMutablePointer<Float>) {
        var ptrs = (UnsafePointer<Float>(mid), UnsafePointer<Float>(mid), UnsafePointer<Float>(mid),
                    UnsafePointer<Float>(mid), UnsafePointer<Float>(mid), UnsafePointer<Float>(mid))
        var coefs = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
        withUnsafeMutableBytes(of: &ptrs) { pb in
            withUnsafeMutableBytes(of: &coefs) { cb in
                let p = pb.baseAddress!.assumingMemoryBound(to: UnsafePointer<Float>.self)
                let c = cb.baseAddress!.assumingMemoryBound(to: Float.self)
                // mid[a][j] = sum_i P[a][i] in[i][j]
                for a in 0..<rows {
                    let n = start[a + 1] - start[a]
                    for j in 0..<cols {
                        for e in 0..<n {
                            p[e] = src + column[start[a] + e] * srcRow + j * srcCol
                            c[e] = value[start[a] + e]
                        }
                        Self.combine(p, c, n, mid + (a * cols + j) * len, len)
                    }
                }
                // out[a][b] = sum_j P[b][j] mid[a][j]
                for b in 0..<rows {
                    let n = start[b + 1] - start[b]
                    for e in 0..<n { c[e] = value[start[b] + e] }
                    for a in 0..<rows {
                        for e in 0..<n { p[e] = UnsafePointer(mid + (a * cols + column[start[b] + e]) * len) }
                        Self.combine(p, c, n, dst + a * dstRow + b * dstCol, len)
                    }
                }
            }
        }
    }

    /// dst[0..<len] = sum_e c[e] * p[e][0..<len] (n <= 6 terms, in term order; n = 0 gives zeros).
    @inline(__always)
    static func combine(_ p: UnsafeMutablePointer<UnsafePointer<Float>>, _ c: UnsafeMutablePointer<Float>, _ n: Int,
                        _ dst: UnsafeMutablePointer<Float>, _ len: Int) {
        typealias F8 = SIMD8<Float>
        var i = 0
        while i + 8 <= len {
            var acc = F8()
            for e in 0..<n { acc.addProduct(F8(repeating: c[e]), UnsafeRawPointer(p[e] + i).loadUnaligned(as: F8.self)) }
            UnsafeMutableRawPointer(dst + i).storeBytes(of: acc, as: F8.self)
            i += 8
        }
        while i < len {
            var acc: Float = 0
            for e in 0..<n { acc.addProduct(c[e], p[e][i]) }
            dst[i] = acc
            i += 1
        }
    }
}

/// The three passes of a Winograd conv over NHWC tensors, tiles processed in chunks whose size depends on
/// the shape alone (so results never depend on the thread count): transforms run in parallel over tiles,
/// the t^2 products in parallel over positions, each product on one thread.
enum WinogradConv {
    /// y = conv(x, w) (+ bias) for a 3x3 stride-1 SAME conv.
    static func forward(_ g: ConvGeometry, _ wino: Winograd, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>? = nil, y: UnsafeMutablePointer<Float>) {
        let plan = Plan(wino, n: g.n, h: g.h, w: g.w, channels: g.cin + g.cout)
        let u = UnsafeMutablePointer<Float>.allocate(capacity: wino.t * wino.t * g.cin * g.cout)
        defer { u.deallocate() }
        transformFilter(wino, w, cin: g.cin, cout: g.cout, u)
        forward(plan, x: x, cin: g.cin, u: u, cout: g.cout, bias: bias, y: y)
    }

    /// dx (overwritten) and dw (overwritten) of a 3x3 stride-1 SAME conv; either may be skipped.
    static func backward(_ g: ConvGeometry, _ wino: Winograd, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                         dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?) {
        let plan = Plan(wino, n: g.n, h: g.h, w: g.w, channels: g.cin + g.cout)
        if let dx {
            // dx is the same correlation of dy with the kernel flipped in space and its channels swapped: the
            // flip is read with negative strides, the swap done by the products (transposed U)
            let u = UnsafeMutablePointer<Float>.allocate(capacity: wino.t * wino.t * g.cin * g.cout)
            defer { u.deallocate() }
            transformFilter(wino, w, cin: g.cin, cout: g.cout, u, flipped: true)
            forward(plan, x: dy, cin: g.cout, u: u, cout: g.cin, transposedU: true, y: dx)
        }
        if let dw { weightGradient(plan, x: x, cin: g.cin, dy: dy, cout: g.cout, dw: dw) }
    }

    /// Tile grid of one conv and the chunking of its tiles.
    struct Plan {
        let wino: Winograd
        let n: Int, h: Int, w: Int
        let tilesY: Int, tilesX: Int, tiles: Int, chunk: Int

        init(_ wino: Winograd, n: Int, h: Int, w: Int, channels: Int) {
            self.wino = wino; self.n = n; self.h = h; self.w = w
            tilesY = (h + wino.m - 1) / wino.m
            tilesX = (w + wino.m - 1) / wino.m
            tiles = n * tilesY * tilesX
            // transformed inputs and products of a chunk stay near 16 MB (the L3 holds them between phases)
            let limit = max(16, (4 << 20) / (wino.t * wino.t * max(1, channels)))
            let chunks = max(1, (tiles + limit - 1) / limit)
            chunk = (tiles + chunks - 1) / chunks
        }

        /// Narrow layers run in items of a few tiles taken through all phases on one thread, so an item's
        /// transformed inputs and products (~1 MB) stay in that core's L2. Nil for wide layers (the head's
        /// 819-channel class conv would get < 32 tiles an item, too few rows for sgemm): they go phase by phase.
        func fusedItems(cin: Int, cout: Int) -> (items: Int, per: Int)? {
            let fused = (256 << 10) / (wino.t * wino.t * (cin + cout))
            guard fused >= 32 && tiles >= 2 * fused else { return nil }
            let items = (tiles + fused - 1) / fused
            return (items, (tiles + items - 1) / items)
        }

        /// Top-left input pixel of a tile (the window starts one pixel above and left: SAME padding 1).
        @inline(__always) func origin(_ tile: Int) -> (img: Int, y: Int, x: Int) {
            let per = tilesY * tilesX, r = tile % per
            return (tile / per, (r / tilesX) * wino.m - 1, (r % tilesX) * wino.m - 1)
        }
    }

    /// Transformed filters U [t*t][cin][cout] of a kernel [3][3][cin][cout] (flipped: of the kernel turned
    /// by 180 degrees in space, read through negative strides).
    static func transformFilter(_ wino: Winograd, _ w: UnsafePointer<Float>, cin: Int, cout: Int,
                                _ u: UnsafeMutablePointer<Float>, flipped: Bool = false) {
        let len = cin * cout, t = wino.t
        let src = flipped ? w + 8 * len : w, step = flipped ? -len : len
        mapSlices(len) { lo, count, scratch in
            WinogradTiles.run(.filter, wino.tiles, src + lo, srcRow: 3 * step, srcCol: step, u + lo, dstRow: t * len,
                                 dstCol: len, channels: count, scratch: scratch)
        }
    }

    /// Runs body(lo, count, scratch) over fixed slices of 0..<len (thread-count independent; short enough that
    /// a 64x64 kernel is spread over the threads, not left to one while the others wait), each at least 8
    /// long (a short last slice starts earlier and overlaps the one before; it writes the same values).
    static func mapSlices(_ len: Int, _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        precondition(len >= 8, "Winograd filter transforms need at least 8 channel pairs, got \(len)")
        Threads.parallelChunks(len, grain: 512) { _, r in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: WinogradTiles.scratch) { scratch in
                let lo = min(r.lowerBound, len - 8)
                body(lo, r.upperBound - lo, scratch.baseAddress!)
            }
        }
    }

    /// y [n,h,w,cout] = conv3x3(x [n,h,w,cin], kernel) (+ bias) with U = transformFilter(kernel), each
    /// position's U [cin][cout], or [cout][cin] when transposedU.
    static func forward(_ plan: Plan, x: UnsafePointer<Float>, cin: Int, u: UnsafePointer<Float>, cout: Int,
                        transposedU: Bool = false, bias: UnsafePointer<Float>? = nil, y: UnsafeMutablePointer<Float>) {
        let wino = plan.wino, t2 = wino.t * wino.t, ldu = transposedU ? cin : cout
        if let (items, per) = plan.fusedItems(cin: cin, cout: cout) {
            let xP = UncheckedBox(x), uP = UncheckedBox(u), yP = SendablePtr(y), bP = UncheckedBox(bias)
            Threads.parallelFor(items) { item in
                let first = item * per, count = min(per, plan.tiles - first)
                let v = UnsafeMutablePointer<Float>.allocate(capacity: t2 * count * (cin + cout))
                defer { v.deallocate() }
                let prod = v + t2 * count * cin
                transformWindows(.input, plan, xP.value, channels: cin, first: first, count: count, into: v)
                for e in 0..<t2 {
                    sgemmPart(false, transposedU, count, cout, cin, 1, v + e * count * cin, cin, uP.value + e * cin * cout,
                              ldu, 0, prod + e * count * cout, cout)
                }
                transformOutputs(plan, prod, channels: cout, first: first, count: count, bias: bP.value, into: yP.p)
            }
            return
        }
        let v = UnsafeMutablePointer<Float>.allocate(capacity: t2 * plan.chunk * cin)
        let prod = UnsafeMutablePointer<Float>.allocate(capacity: t2 * plan.chunk * cout)
        defer { v.deallocate(); prod.deallocate() }
        let vP = SendablePtr(v), mP = SendablePtr(prod), uP = UncheckedBox(u)
        var first = 0
        while first < plan.tiles {
            let count = min(plan.chunk, plan.tiles - first)
            transformWindows(.input, plan, x, channels: cin, first: first, count: count, into: v)
            Threads.parallelFor(t2) { e in
                sgemmPart(false, transposedU, count, cout, cin, 1, vP.p + e * count * cin, cin, uP.value + e * cin * cout,
                          ldu, 0, mP.p + e * count * cout, cout)
            }
            transformOutputs(plan, prod, channels: cout, first: first, count: count, bias: bias, into: y)
            first += count
        }
    }

    /// dw [3,3,cin,cout] = sum over pixels of x (SAME-padded) times dy, through the transformed domain.
    static func weightGradient(_ plan: Plan, x: UnsafePointer<Float>, cin: Int, dy: UnsafePointer<Float>, cout: Int,
                               dw: UnsafeMutablePointer<Float>) {
        let wino = plan.wino, t2 = wino.t * wino.t, len = cin * cout
        let du = UnsafeMutablePointer<Float>.allocate(capacity: t2 * len)
        defer { du.deallocate() }
        let duP = SendablePtr(du)
        if let (items, per) = plan.fusedItems(cin: cin, cout: cout) {
            // each item sums its own tiles; the items' sums are then added in item order
            let partial = UnsafeMutablePointer<Float>.allocate(capacity: items * t2 * len)
            defer { partial.deallocate() }
            let xP = UncheckedBox(x), dyP = UncheckedBox(dy), pP = SendablePtr(partial)
            Threads.parallelFor(items) { item in
                let first = item * per, count = min(per, plan.tiles - first)
                let v = UnsafeMutablePointer<Float>.allocate(capacity: t2 * count * (cin + cout))
                defer { v.deallocate() }
                let dm = v + t2 * count * cin, sum = pP.p + item * t2 * len
                transformWindows(.input, plan, xP.value, channels: cin, first: first, count: count, into: v)
                transformWindows(.outputGrad, plan, dyP.value, channels: cout, first: first, count: count, into: dm)
                for e in 0..<t2 {
                    sgemmPart(true, false, cin, cout, count, 1, v + e * count * cin, cin, dm + e * count * cout, cout,
                              0, sum + e * len, cout)
                }
            }
            Reduce.sumParts(partial, count: items, size: t2 * len, into: du)
        } else {
            let v = UnsafeMutablePointer<Float>.allocate(capacity: t2 * plan.chunk * cin)
            let dm = UnsafeMutablePointer<Float>.allocate(capacity: t2 * plan.chunk * cout)
            defer { v.deallocate(); dm.deallocate() }
            let vP = SendablePtr(v), mP = SendablePtr(dm)
            var first = 0
            while first < plan.tiles {
                let count = min(plan.chunk, plan.tiles - first)
                transformWindows(.input, plan, x, channels: cin, first: first, count: count, into: v)
                transformWindows(.outputGrad, plan, dy, channels: cout, first: first, count: count, into: dm)
                let beta: Float = first == 0 ? 0 : 1
                Threads.parallelFor(t2) { e in
                    sgemmPart(true, false, cin, cout, count, 1, vP.p + e * count * cin, cin, mP.p + e * count * cout,
                              cout, beta, duP.p + e * len, cout)
                }
                first += count
            }
        }
        mapSlices(len) { lo, count, scratch in
            WinogradTiles.run(.filterGrad, wino.tiles, duP.p + lo, srcRow: wino.t * len, srcCol: len, dw + lo, dstRow: 3 * len,
                                     dstCol: len, channels: count, scratch: scratch)
        }
    }

    /// out[e][tile - first][c] = the transform of each tile's window of src, zeros outside the image: the
    /// t x t input window (B^T x B, `.input`) or the m x m output window (A dy A^T, `.outputGrad`).
    static func transformWindows(_ which: WinogradTiles.Transform, _ plan: Plan, _ src: UnsafePointer<Float>,
                                 channels c: Int, first: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        let wino = plan.wino, t = wino.t, h = plan.h, w = plan.w
        let size = which == .input ? t : wino.m, offset = which == .input ? 0 : 1
        let sP = UncheckedBox(src), oP = SendablePtr(out)
        forEachTile(plan, first: first, count: count, buffer: size * size * c) { i, origin, patch, mid in
            let wy = origin.y + offset, wx = origin.x + offset
            let image = sP.value + origin.img * h * w * c
            let dst = oP.p + i * c
            if wy >= 0 && wx >= 0 && wy + size <= h && wx + size <= w {
                WinogradTiles.run(which, wino.tiles, image + (wy * w + wx) * c, srcRow: w * c, srcCol: c, dst,
                                  dstRow: t * count * c, dstCol: count * c, channels: c, scratch: mid)
            } else {
                gather(image, h: h, w: w, c: c, y0: wy, x0: wx, size: size, into: patch)
                WinogradTiles.run(which, wino.tiles, patch, srcRow: size * c, srcCol: c, dst,
                                  dstRow: t * count * c, dstCol: count * c, channels: c, scratch: mid)
            }
        }
    }

    /// y tile = A^T prod_tile A, written where it lies inside the image.
    static func transformOutputs(_ plan: Plan, _ prod: UnsafePointer<Float>, channels c: Int, first: Int,
                                 count: Int, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        let wino = plan.wino, t = wino.t, m = wino.m, h = plan.h, w = plan.w
        let pP = UncheckedBox(prod), yP = SendablePtr(y), bP = UncheckedBox(bias)
        forEachTile(plan, first: first, count: count, buffer: m * m * c) { i, origin, tile, mid in
            let oy = origin.y + 1, ox = origin.x + 1
            let image = yP.p + origin.img * h * w * c
            let src = pP.value + i * c
            let rows = min(m, h - oy), cols = min(m, w - ox)
            if rows == m && cols == m {
                WinogradTiles.run(.output, wino.tiles, src, srcRow: t * count * c, srcCol: count * c,
                                  image + (oy * w + ox) * c, dstRow: w * c, dstCol: c, channels: c, scratch: mid)
            } else {
                WinogradTiles.run(.output, wino.tiles, src, srcRow: t * count * c, srcCol: count * c, tile,
                                  dstRow: m * c, dstCol: c, channels: c, scratch: mid)
                for r in 0..<rows {
                    (image + ((oy + r) * w + ox) * c).update(from: tile + r * m * c, count: cols * c)
                }
            }
            // the bias goes on while the tile is still in L1
            if let b = bP.value {
                for r in 0..<rows { ConvKernels.addBias(image + ((oy + r) * w + ox) * c, rows: cols, channels: c, b) }
            }
        }
    }

    /// body(i, origin of tile first + i, buffer, transform scratch) for i in 0..<count, in parallel chunks of 8
    /// tiles; each chunk allocates its buffer (`floats`) and the transforms' scratch once.
    static func forEachTile(_ plan: Plan, first: Int, count: Int, buffer floats: Int,
                            _ body: (Int, (img: Int, y: Int, x: Int), UnsafeMutablePointer<Float>,
                                     UnsafeMutablePointer<Float>) -> Void) {
        Threads.parallelChunks(count, grain: 8) { _, range in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: floats + WinogradTiles.scratch)
            defer { buffer.deallocate() }
            for i in range { body(i, plan.origin(first + i), buffer, buffer + floats) }
        }
    }

    /// size x size x c window at (y0, x0) of one image, zeros outside it.
    static func gather(_ image: UnsafePointer<Float>, h: Int, w: Int, c: Int, y0: Int, x0: Int, size: Int,
                       into patch: UnsafeMutablePointer<Float>) {
        let lo = max(0, -x0), hi = max(lo, min(size, w - x0))
        for r in 0..<size {
            let row = patch + r * size * c, iy = y0 + r
            guard iy >= 0 && iy < h && hi > lo else { row.update(repeating: 0, count: size * c); continue }
            if lo > 0 { row.update(repeating: 0, count: lo * c) }
            (row + lo * c).update(from: image + (iy * w + x0 + lo) * c, count: (hi - lo) * c)
            if hi < size { (row + hi * c).update(repeating: 0, count: (size - hi) * c) }
        }
    }
}
