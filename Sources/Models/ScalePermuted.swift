/// Expands a scale-permuted block list into plan nodes (docs/paper-facts.md §2-§3, TFM's spinenet.py conventions).
extension GraphBuilder {
    /// Returns the endpoint node of each level L3..L7.
    func scalePermuted(_ image: Int, _ spec: ModelSpec, scaling: Scaling, inputSize: Int) -> [Int: Int] {
        var features = stem(image, spec.stem, scaling: scaling)
        // How many later blocks take each feature; the ResNet chain of the stem counts.
        var consumers = features.indices.map { $0 < features.count - 1 ? 1 : 0 }
        var outputs: [Int: Int] = [:]
        for (k, block) in spec.blocks.enumerated() {
            let name = "block\(k)"
            let filters = scaling.filters(level: block.level)
            let channels = block.type.outputChannels(filters: filters)
            let size = ceilDiv(inputSize, 1 << block.level)
            var parents: [Int] = []
            for (j, p) in (block.inputs ?? []).enumerated() {
                parents.append(resample(features[p], into: block, channels: channels, size: size,
                                        alpha: scaling.resampleAlpha, name: "\(name)/in\(j)"))
                consumers[p] += 1
            }
            if block.output && spec.mergeUnconsumed {
                for (j, f) in features.enumerated()
                where consumers[j] == 0 && f.level == block.level && shape(f.node).c == channels {
                    parents.append(f.node)
                    consumers[j] += 1
                }
            }
            let merged = activation(sum(parents, name + "/sum"), name + "/sum_act")
            currentBlock = k
            let y = blockGroup(merged, name, type: block.type, filters: filters, stride: 1, repeats: scaling.blockRepeats)
            currentBlock = nil
            features.append(Feature(node: y, level: block.level, type: block.type))
            consumers.append(0)
            if block.output { outputs[block.level] = y }
        }
        var endpoints: [Int: Int] = [:]
        for level in 3...7 {
            endpoints[level] = convBN(outputs[level]!, "endpoint\(level)", out: scaling.endpointsNumFilters, kernel: 1, act: true)
        }
        return endpoints
    }

    /// 1x1 conv to int(base * alpha) (base = Cp/4 for a bottleneck parent), BN, act; then a 3x3 stride-2
    /// conv-BN-act plus max pools down, or nearest upsampling up; then 1x1 conv to the block's width, BN.
    func resample(_ parent: Feature, into block: BlockSpec, channels: Int, size: Int, alpha: Double, name: String) -> Int {
        let cp = shape(parent.node).c
        let base = parent.type == .bottleneck ? cp / 4 : cp
        let mid = Int(Double(base) * alpha)
        var x = convBN(parent.node, name + "/reduce", out: mid, kernel: 1, act: true)
        if parent.level < block.level {
            x = convBN(x, name + "/down", out: mid, kernel: 3, stride: 2, act: true)
            for i in 1..<(block.level - parent.level) { x = maxPool(x, "\(name)/pool\(i)") }
        } else if parent.level > block.level {
            x = upsample(x, name + "/up", factor: 1 << (parent.level - block.level), to: FeatureShape(h: size, w: size, c: mid))
        }
        return convBN(x, name + "/expand", out: channels, kernel: 1, act: false)
    }
}
