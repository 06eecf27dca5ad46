/// Table 9's graph damage, applicable to any scale-permuted spec. Every permuted block ends with exactly
/// one parent, and the output-block rule is switched off (`mergeUnconsumed = false`) so that it cannot
/// re-add a removed path; blocks left feeding nothing are pruned from the layer graph by the builder.
public enum GraphDamage: String, CaseIterable, Sendable {
    /// Remove the short-range connection: keep the earlier-built parent.
    case noShort = "no-short"
    /// Remove the long-range connection: keep the later-built parent.
    case noLong = "no-long"
    /// Remove both: the single parent is the block built right before.
    case sequential = "sequential"

    public func apply(to spec: ModelSpec) -> ModelSpec {
        var out = spec
        out.name = "\(spec.name)-\(rawValue)"
        out.aliases = []
        out.mergeUnconsumed = false
        out.note = "\(spec.name) with graph damage '\(rawValue)' (Table 9); output-block rule off. \(spec.note)"
        for k in out.blocks.indices {
            let parents = out.blocks[k].inputs ?? []
            switch self {
            case .noShort: out.blocks[k].inputs = [parents.min() ?? 0]
            case .noLong: out.blocks[k].inputs = [parents.max() ?? 0]
            case .sequential: out.blocks[k].inputs = [spec.index(ofBlock: k) - 1]
            }
        }
        return out
    }
}
