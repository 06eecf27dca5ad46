/// Layers own their Parameters and put themselves on a tape.

/// What a model keeps per weight key: a layer and the parameters it owns (in a fixed order, as checkpoints
/// and the optimizer list them).
public protocol Layer: AnyObject {
    var parameters: [Parameter] { get }
}

/// Convolution layer (no bias by default, TF "SAME" padding).
public final class Conv2D: Layer {
    public let name: String
    public let kernel: Parameter
    public let bias: Parameter?
    public let stride: Int
    public let inChannels: Int, outChannels: Int, kernelSize: Int

    public init(name: String, inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1,
                bias: Bool = false, initializer: Initializer = .varianceScaling(), biasInitializer: Initializer = .constant(0),
                rng: inout RNG) {
        precondition(kernel % 2 == 1, "Conv2D \(name): kernel must be odd, got \(kernel)")
        precondition(stride == 1 || stride == 2, "Conv2D \(name): stride must be 1 or 2, got \(stride)")
        self.name = name
        self.stride = stride
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernelSize = kernel
        self.kernel = Parameter(name: name + "/kernel",
                                value: initializer.make(shape: [kernel, kernel, inChannels, outChannels], rng: &rng),
                                decays: true)
        self.bias = bias ? Parameter(name: name + "/bias", value: biasInitializer.make(shape: [outChannels], rng: &rng),
                                     decays: false) : nil
    }

    public func callAsFunction(_ x: Var, on tape: Tape) -> Var {
        tape.conv2d(x, tape.param(kernel), bias: bias.map { tape.param($0) }, stride: stride)
    }

    public var parameters: [Parameter] { [kernel] + (bias.map { [$0] } ?? []) }
}

/// Batch normalisation over channels; gamma/beta trainable, running statistics saved in checkpoints.
public final class BatchNorm: Layer {
    public let name: String
    public let channels: Int
    /// Moving-average momentum; settable so that a recalibration pass can take an exact mean over batches.
    public var momentum: Float
    public let epsilon: Float
    public let gamma: Parameter
    public let beta: Parameter
    public var runningMean: Tensor
    public var runningVar: Tensor

    public init(name: String, channels: Int, momentum: Float = 0.99, epsilon: Float = 1e-3, gammaInit: Float = 1) {
        self.name = name
        self.channels = channels
        self.momentum = momentum
        self.epsilon = epsilon
        gamma = Parameter(name: name + "/gamma", value: Tensor(shape: [channels], repeating: gammaInit), decays: false)
        beta = Parameter(name: name + "/beta", value: Tensor(zeros: [channels]), decays: false)
        runningMean = Tensor(zeros: [channels])
        runningVar = Tensor(shape: [channels], repeating: 1)
    }

    public func callAsFunction(_ x: Var, on tape: Tape) -> Var { tape.batchNorm(x, self) }

    public var parameters: [Parameter] { [gamma, beta] }

    /// Running statistics as named tensors, for checkpoints.
    public var buffers: [(String, Tensor)] { [(name + "/moving_mean", runningMean), (name + "/moving_variance", runningVar)] }
}

/// Fully connected layer [N,I] -> [N,O].
public final class Dense: Layer {
    public let name: String
    public let weight: Parameter
    public let bias: Parameter?

    public init(name: String, inFeatures: Int, outFeatures: Int, bias: Bool = true,
                initializer: Initializer = .varianceScaling(), biasInitializer: Initializer = .constant(0), rng: inout RNG) {
        self.name = name
        weight = Parameter(name: name + "/kernel", value: initializer.make(shape: [inFeatures, outFeatures], rng: &rng),
                           decays: true)
        self.bias = bias ? Parameter(name: name + "/bias", value: biasInitializer.make(shape: [outFeatures], rng: &rng),
                                     decays: false) : nil
    }

    public func callAsFunction(_ x: Var, on tape: Tape) -> Var {
        tape.dense(x, tape.param(weight), bias: bias.map { tape.param($0) })
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }
}
