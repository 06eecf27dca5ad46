/// The runs of one ablation at one profile, in a fixed order, and the share of them this
/// process takes under `--shard i/n` (a Slurm array task runs `--shard $SLURM_ARRAY_TASK_ID/n`).
public struct RunPlan: Sendable {
    public struct Run: Sendable, Equatable {
        public var model: String
        public var seed: Int
        public var index: Int
        /// The dataset kind of a classification run (its models train once per dataset); nil for detection.
        public var dataset: String? = nil
    }

    public let runs: [Run]

    /// Models in table order, seeds 0..<seeds for each; run k belongs to shard k % n.
    public init(models: [String], seeds: Int, shard: Shard = .all) {
        self.init(units: models.map { ($0, nil) }, seeds: seeds, shard: shard)
    }

    /// (model, dataset kind) units in table order, seeds 0..<seeds for each; run k belongs to shard k % n.
    public init(units: [(model: String, dataset: String?)], seeds: Int, shard: Shard = .all) {
        var all: [Run] = []
        for seed in 0..<seeds {
            for u in units { all.append(Run(model: u.model, seed: seed, index: all.count, dataset: u.dataset)) }
        }
        runs = all.filter { $0.index % shard.count == shard.index }
    }
}

/// `i/n`: this process is shard i (0-based, i < n) of n.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int
    public static let all = Shard(index: 0, count: 1)

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public init(parsing text: String) throws {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else {
            throw HarnessError.badArgument("--shard '\(text)': expected i/n with 0 <= i < n, e.g. 0/4 (Slurm: $SLURM_ARRAY_TASK_ID/4)")
        }
        self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// This shard cut into `parts` shards of the whole plan that together take exactly its runs: run k is in
    /// shard i/n when k % n == i, and of those the j-th part takes k % (n*parts) == i + n*j.
    public func split(into parts: Int) -> [Shard] {
        (0..<parts).map { Shard(index: index + count * $0, count: count * parts) }
    }
}
