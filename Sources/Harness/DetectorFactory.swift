import Detection
import Engine
import Models

/// The network a run trains (a RetinaNet plan made trainable) plus what its record says about it.
struct BuiltDetector {
    var network: Network
    var displayName: String
    var provenance: String
    var size: ResultRecord.Size
    /// `RunConfig.modelHash` of the spec it was built from, checked against the run's config.
    var modelHash: String
}

/// Builds a run's detector from the model's block list at the profile's proxy setting, and counts it
/// there and at the paper's setting. `spec` (a search candidate) replaces the library lookup of `model`.
enum DetectorFactory {
    static func build(model: String, spec given: ModelSpec? = nil, profile: AblationDefinition.Profile, numClasses: Int,
                      seed: UInt64) throws -> BuiltDetector {
        let spec = try given ?? SpecLibrary.standard().spec(named: model)
        let trained = try ModelBuilder.build(spec, options: proxyOptions(spec, profile: profile, numClasses: numClasses))
        let paper = try ModelBuilder.build(spec, options: profile.isClassification ? paperClassification : ModelOptions())
        let t = trained.counts, p = paper.counts
        return BuiltDetector(
            network: Network(plan: trained, seed: seed, bnMomentum: Float(profile.bnMomentum)),
            displayName: spec.aliases.first ?? spec.name, provenance: spec.provenance.rawValue,
            size: .init(params: t.params, macs: t.macs, backboneParams: t.backboneParams, backboneMacs: t.backboneMACs,
                        paperParams: p.params, paperMacs: p.macs),
            modelHash: RunConfig.modelHash(spec))
    }
}

extension DetectorFactory {
    /// SpineNet-49's scaling (docs/paper-facts.md §4), the member of the family a profile's widths are written for.
    static let reference = (filterSizeScale: 1.0, resampleAlpha: 0.5, endpoints: 256, headFilters: 256)

    /// How a profile's proxy setting applies to a spec. The profile's `scale`, `alpha`, `endpoints` and
    /// `head_filters` are the widths SpineNet-49 trains with; every spec keeps its own ratio to SpineNet-49's
    /// paper scaling (filter_size_scale 1.0, resample_alpha 0.5, 256 endpoints, a 256-wide head), so the scaled
    /// members differ at the proxy as in the paper: SpineNet-49S at 0.65 of the width and half the head width,
    /// SpineNet-143 at twice the resampling alpha. `block_repeats` and the stem's block counts (ResNet-101/152)
    /// stay as the spec says; input size, head depth and anchors are the profile's, the same for every model.
    /// Every spec of the permutation and connections ablations (and every search candidate) has SpineNet-49's
    /// scaling, so for them this is exactly the profile's setting, as before.
    /// A classifier at the paper's ImageNet setting (docs/paper-facts.md §14): 224 px, 1000 classes, the spec's
    /// paper scaling. The classification records' paper-size counts are these, also for the fine-grained table
    /// (the paper's iNaturalist models differ only in their 5089-way dense layer).
    static let paperClassification = ModelOptions(inputSize: 224, head: .classification(classes: 1000))

    /// A classification profile (`label_smoothing`) gets the classification head (`HeadConfig.classification`) with
    /// the dataset's classes; its head width and depth keys do not exist.
    static func proxyOptions(_ spec: ModelSpec, profile: AblationDefinition.Profile, numClasses: Int) -> ModelOptions {
        let s = spec.scaling, r = reference
        // Ratios first: a ratio of 1 leaves the profile's value bit for bit.
        func width(_ base: Int, _ own: Int, _ ref: Int) -> Int {
            own == ref ? base : max(1, Int((Double(base) * Double(own) / Double(ref)).rounded()))
        }
        return ModelOptions(
            inputSize: profile.input,
            filterSizeScale: profile.scale * (s.filterSizeScale / r.filterSizeScale),
            resampleAlpha: profile.alpha * (s.resampleAlpha / r.resampleAlpha),
            endpointsNumFilters: width(profile.endpoints, s.endpointsNumFilters, r.endpoints),
            head: profile.isClassification ? .classification(classes: numClasses)
                : .retinaNet(filters: width(profile.headFilters, spec.paper.headFilters, r.headFilters),
                             convs: profile.headConvs, classes: numClasses,
                             anchors: AnchorConfig(profile: profile).anchorsPerLocation))
    }
}

extension AnchorConfig {
    /// A run's anchors: the paper's levels, scales and ratios at the profile's anchor size. The detector's head
    /// is built with as many outputs per location as this has anchors.
    init(profile p: AblationDefinition.Profile) { self.init(anchorSize: Float(p.anchorSize)) }
}

extension RetinaNet {
    /// A run's detector: the profile's input size, anchor size and loss recipe (focal alpha and gamma, Huber
    /// delta, box weight; docs/paper-facts.md §8). The one place a profile becomes detector settings.
    init(profile p: AblationDefinition.Profile, numClasses: Int) {
        self.init(anchors: AnchorConfig(profile: p), imageSize: p.input, numClasses: numClasses,
                  loss: RetinaNetLoss(focalAlpha: Float(p.focalAlpha), focalGamma: Float(p.focalGamma),
                                      huberDelta: Float(p.huberDelta), boxWeight: Float(p.boxWeight)))
    }
}
