/// Residual units and the ResNet-style stem, emitted as plan nodes (docs/paper-facts.md §2, TFM conventions).
extension GraphBuilder {
    /// 1x1(F)-BN-act, 3x3(F, stride)-BN-act, 1x1(4F)-BN, + shortcut, act. The stride sits in the 3x3 conv.
    /// A projection shortcut (1x1 conv + BN) only where channels or stride differ.
    func bottleneck(_ x: Int, _ name: String, filters f: Int, stride: Int) -> Int {
        let shortcut = shape(x).c != 4 * f || stride != 1
            ? convBN(x, name + "/shortcut", out: 4 * f, kernel: 1, stride: stride, act: false) : x
        var y = convBN(x, name + "/conv1", out: f, kernel: 1, act: true)
        y = convBN(y, name + "/conv2", out: f, kernel: 3, stride: stride, act: true)
        y = convBN(y, name + "/conv3", out: 4 * f, kernel: 1, act: false)
        return activation(residualSum(y, shortcut, name + "/add"), name + "/act")
    }

    /// 3x3(F, stride)-BN-act, 3x3(F)-BN, + shortcut, act.
    func residual(_ x: Int, _ name: String, filters f: Int, stride: Int) -> Int {
        let shortcut = shape(x).c != f || stride != 1
            ? convBN(x, name + "/shortcut", out: f, kernel: 1, stride: stride, act: false) : x
        var y = convBN(x, name + "/conv1", out: f, kernel: 3, stride: stride, act: true)
        y = convBN(y, name + "/conv2", out: f, kernel: 3, act: false)
        return activation(residualSum(y, shortcut, name + "/add"), name + "/act")
    }

    /// A block repeated `repeats` times: the first takes `x` (and the stride), the rest are stride 1.
    func blockGroup(_ x: Int, _ name: String, type: BlockType, filters: Int, stride: Int, repeats: Int) -> Int {
        var y = x
        for r in 0..<repeats {
            let n = repeats == 1 ? name : "\(name)/r\(r)"
            let s = r == 0 ? stride : 1
            y = type == .bottleneck ? bottleneck(y, n, filters: filters, stride: s) : residual(y, n, filters: filters, stride: s)
        }
        return y
    }

    /// 7x7/64 stride-2 conv (never width-scaled), BN, act, 3x3 stride-2 max pool, then the stem's bottleneck
    /// groups level by level; the first group of L3..L5 has stride 2. Returns every stem block, in order.
    func stem(_ image: Int, _ spec: StemSpec, scaling: Scaling) -> [Feature] {
        var x = convBN(image, "stem/conv7", out: 64, kernel: 7, stride: 2, act: true)
        x = maxPool(x, "stem/maxpool")
        var features: [Feature] = []
        for (i, level) in spec.levels.enumerated() {
            let first = i == 0 || spec.levels[i - 1] != level
            x = blockGroup(x, "stem/block\(i)", type: .bottleneck, filters: scaling.filters(level: level),
                           stride: first && level > 2 ? 2 : 1, repeats: scaling.blockRepeats)
            features.append(Feature(node: x, level: level, type: .bottleneck))
        }
        return features
    }
}

/// A block output that later blocks may take as input.
struct Feature {
    let node: Int
    let level: Int
    let type: BlockType
}
