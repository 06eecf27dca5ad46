/// The deterministic rule that connects block lists whose connections were never published
/// (R35-SP18, R23-SP30, R14-SP39, Hourglass, Fish). It stays inside the paper's search space:
///
/// - candidates of an intermediate block: every stem block plus the last 5 blocks built;
///   candidates of an output block: every earlier block;
/// - the two parents are the first two candidates ordered by
///   (1) not yet feeding any block first, so no block is left dead,
///   (2) closest level to the target block, so resampling stays short,
///   (3) most recently built first;
/// - a stem block counts as feeding something when the next stem block follows it (the ResNet chain),
///   so of the stem only its last block starts out unconsumed.
///
/// Blocks that already list their inputs keep them (and count as consumers).
public enum ConnectionRule {
    public static func connect(_ spec: ModelSpec) -> ModelSpec {
        var out = spec
        let stemCount = spec.stem.blockCount
        var levels = spec.stem.levels
        var consumers = (0..<stemCount).map { $0 < stemCount - 1 ? 1 : 0 }
        for (k, block) in spec.blocks.enumerated() {
            let own = stemCount + k
            let inputs = block.inputs ?? {
                let window = block.output ? Array(0..<own) : Array(0..<stemCount) + Array(max(stemCount, own - 5)..<own)
                let ranked = window.sorted { a, b in
                    let ka = (consumers[a] > 0 ? 1 : 0, abs(levels[a] - block.level), -a)
                    let kb = (consumers[b] > 0 ? 1 : 0, abs(levels[b] - block.level), -b)
                    return ka < kb
                }
                return Array(ranked.prefix(2)).sorted()
            }()
            out.blocks[k].inputs = inputs
            for p in inputs { consumers[p] += 1 }
            levels.append(block.level)
            consumers.append(0)
        }
        return out
    }
}
