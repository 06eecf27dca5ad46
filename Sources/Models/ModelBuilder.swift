/// Overrides of a spec's paper settings; nil keeps the spec's value.
public struct ModelOptions: Equatable, Sendable {
    public var inputSize: Int?
    public var filterSizeScale: Double?
    public var resampleAlpha: Double?
    public var endpointsNumFilters: Int?
    public var blockRepeats: Int?
    public var activation: ActivationKind
    /// nil: the spec's paper RetinaNet head (91 classes, 9 anchors).
    public var head: HeadConfig?

    public init(inputSize: Int? = nil, filterSizeScale: Double? = nil, resampleAlpha: Double? = nil,
                endpointsNumFilters: Int? = nil, blockRepeats: Int? = nil, activation: ActivationKind = .relu,
                head: HeadConfig? = nil) {
        self.inputSize = inputSize; self.filterSizeScale = filterSizeScale; self.resampleAlpha = resampleAlpha
        self.endpointsNumFilters = endpointsNumFilters; self.blockRepeats = blockRepeats
        self.activation = activation; self.head = head
    }
}

public struct BuildError: Error, CustomStringConvertible {
    public let description: String
}

public enum ModelBuilder {
    public static let cocoClasses = 91
    /// The paper's anchors per location (3 octave scales x 3 ratios; Detection's `AnchorConfig()`, which a test
    /// keeps equal to this).
    public static let anchorsPerLocation = 9

    /// The paper's RetinaNet head for a spec.
    public static func paperHead(_ spec: ModelSpec) -> HeadConfig {
        .retinaNet(filters: spec.paper.headFilters, convs: spec.paper.headConvs, classes: cocoClasses,
                   anchors: anchorsPerLocation)
    }

    /// Expand a spec into its layer plan: backbone (stem, blocks, endpoints or ResNet + FPN) then the head.
    public static func build(_ spec: ModelSpec, options: ModelOptions = ModelOptions()) throws -> ModelPlan {
        var scaling = spec.scaling
        if let v = options.filterSizeScale { scaling.filterSizeScale = v }
        if let v = options.resampleAlpha { scaling.resampleAlpha = v }
        if let v = options.endpointsNumFilters { scaling.endpointsNumFilters = v }
        if let v = options.blockRepeats { scaling.blockRepeats = v }
        let inputSize = options.inputSize ?? spec.paper.inputSize
        guard inputSize >= 1 else { throw BuildError(description: "input size must be >= 1, got \(inputSize)") }
        guard scaling.filterSizeScale > 0, scaling.resampleAlpha > 0, scaling.endpointsNumFilters >= 1,
              scaling.blockRepeats >= 1 else {
            throw BuildError(description: "scale and alpha must be > 0, endpoints and block repeats >= 1")
        }
        // Every resampling width and block width must stay at least one channel.
        let narrowest = (2...7).map(scaling.filters(level:)).min()!
        guard Int(Double(narrowest) * scaling.resampleAlpha) >= 1 else {
            throw BuildError(description: "scale \(scaling.filterSizeScale) with alpha \(scaling.resampleAlpha) leaves a layer with zero channels")
        }
        if spec.family == .scalePermuted, let missing = spec.blocks.firstIndex(where: { $0.inputs == nil }) {
            throw BuildError(description: "\(spec.name): blocks[\(missing)] has no inputs (run ConnectionRule.connect)")
        }
        let g = GraphBuilder()
        let image = g.input(size: inputSize)
        let head = options.head ?? paperHead(spec)
        // A ResNet classifies from its last stage alone (the paper's ResNet-50 baseline): no FPN under a
        // classification head (docs/paper-facts.md §14).
        let plainResNet: Bool
        if case .classification = head { plainResNet = spec.family == .resnetFPN } else { plainResNet = false }
        let levels = spec.family == .scalePermuted
            ? g.scalePermuted(image, spec, scaling: scaling, inputSize: inputSize)
            : plainResNet ? g.resnet(image, spec, scaling: scaling) : g.resnetFPN(image, spec, scaling: scaling)
        g.part = .head
        var outputs: [String: Int] = [:]
        switch head {
        case .none: break
        case let .retinaNet(filters, convs, classes, anchors):
            guard filters >= 1, convs >= 0, classes >= 1, anchors >= 1 else {
                throw BuildError(description: "head filters, classes and anchors must be >= 1 and convs >= 0")
            }
            outputs = g.retinaNetHead(levels, filters: filters, convs: convs, classes: classes, anchors: anchors)
        case let .classification(classes):
            guard classes >= 1 else { throw BuildError(description: "classes must be >= 1") }
            outputs = plainResNet ? g.pooledClassificationHead(levels, classes: classes)
                                  : g.classificationHead(levels, classes: classes)
        }
        return g.plan(name: spec.name, inputSize: inputSize, activation: options.activation,
                      blockCount: spec.blocks.count, levels: levels, outputs: outputs)
    }
}
