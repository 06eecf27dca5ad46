/// ResNet (stride in the 3x3 conv) with an FPN on C3..C5 and P6/P7 from 3x3 stride-2 convs, as TFM's
/// RetinaNet baseline: laterals 1x1 (bias), top-down nearest upsampling + add, 3x3 (bias) on P3..P5,
/// P6 = conv3x3/2(P5), P7 = conv3x3/2(act(P6)), then BN per level.
extension GraphBuilder {
    /// The plain ResNet: the last block of each level L2..L5 (C2..C5), no FPN.
    func resnet(_ image: Int, _ spec: ModelSpec, scaling: Scaling) -> [Int: Int] {
        var c: [Int: Int] = [:]
        for f in stem(image, spec.stem, scaling: scaling) { c[f.level] = f.node }   // the last block of each level
        return c
    }

    func resnetFPN(_ image: Int, _ spec: ModelSpec, scaling: Scaling) -> [Int: Int] {
        let c = resnet(image, spec, scaling: scaling)
        let width = scaling.endpointsNumFilters
        var lateral: [Int: Int] = [:]
        for l in 3...5 { lateral[l] = conv(c[l]!, "fpn/lateral\(l)", out: width, kernel: 1, bias: true) }
        var p: [Int: Int] = [5: lateral[5]!]
        for l in [4, 3] {
            let up = upsample(p[l + 1]!, "fpn/up\(l)", factor: 2, to: shape(lateral[l]!))
            p[l] = sum([up, lateral[l]!], "fpn/add\(l)")
        }
        for l in 3...5 { p[l] = conv(p[l]!, "fpn/post\(l)", out: width, kernel: 3, bias: true) }
        p[6] = conv(p[5]!, "fpn/p6", out: width, kernel: 3, stride: 2, bias: true)
        p[7] = conv(activation(p[6]!, "fpn/p6_act"), "fpn/p7", out: width, kernel: 3, stride: 2, bias: true)
        var endpoints: [Int: Int] = [:]
        for l in 3...7 { endpoints[l] = batchNorm(p[l]!, "fpn/bn\(l)") }
        return endpoints
    }
}
