/// A trainable weight and its gradient. `decays` says whether L2 weight decay applies
/// (false for BN gamma/beta and biases).
public final class Parameter: @unchecked Sendable {
    public let name: String
    public var value: Tensor
    public var grad: Tensor
    public let decays: Bool
    /// `grad` is known to hold zeros (set by whoever zeroes it, cleared by backward): backward then takes the
    /// first gradient it makes as `grad` instead of adding it into zeros, a pass over every weight per step.
    public var gradIsZero = true

    public init(name: String, value: Tensor, decays: Bool) {
        self.name = name
        self.value = value
        self.grad = Tensor(zeros: value.shape)
        self.decays = decays
    }

    public func zeroGrad() {
        grad.fill(0)
        gradIsZero = true
    }
}
