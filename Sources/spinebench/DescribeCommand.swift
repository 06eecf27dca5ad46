import ArgumentParser
import Models

/// `spinebench describe MODEL`: build a model's layer plan and print its size (params, multiply-adds),
/// output levels and block list. Defaults are the paper's settings for the model.
struct DescribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Params, multiply-adds, output levels and block list of a model (paper settings by default).")

    @Argument(help: "Model name, e.g. spinenet-49, r0-sp53, r0-sp53-no-short (case-insensitive).")
    var model: String

    @Option(help: "Square input size in pixels (default: the paper's for this model).") var input: Int?
    @Option(help: "filter_size_scale (width multiplier).") var scale: Double?
    @Option(help: "resample_alpha.") var alpha: Double?
    @Option(help: "endpoints_num_filters (FPN width for r50-fpn).") var endpoints: Int?
    @Option(name: .customLong("block-repeats"), help: "block_repeats.") var blockRepeats: Int?
    @Option(name: .customLong("head-filters"), help: "RetinaNet head width.") var headFilters: Int?
    @Option(name: .customLong("head-convs"), help: "RetinaNet convs per subnet.") var headConvs: Int?
    @Option(help: "Classes (91 for COCO detection).") var classes: Int?
    @Option(help: "Anchors per location (9).") var anchors: Int?
    @Option(help: "Head: retinanet or classification.") var head: String = "retinanet"
    @Flag(name: .customLong("no-head"), help: "Backbone only.") var noHead = false
    @Option(help: "Directory of spec YAML files (default: ablations/specs, see README there).") var specs: String?
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let library = try specs.map { try SpecLibrary(directory: $0) } ?? SpecLibrary.standard()
        let spec = try library.spec(named: model)
        var options = ModelOptions(inputSize: input, filterSizeScale: scale, resampleAlpha: alpha,
                                   endpointsNumFilters: endpoints, blockRepeats: blockRepeats)
        if noHead {
            options.head = HeadConfig.none
        } else if head == "classification" {
            options.head = .classification(classes: classes ?? 1000)
        } else if head == "retinanet" {
            options.head = .retinaNet(filters: headFilters ?? spec.paper.headFilters, convs: headConvs ?? spec.paper.headConvs,
                                      classes: classes ?? ModelBuilder.cocoClasses,
                                      anchors: anchors ?? ModelBuilder.anchorsPerLocation)
        } else {
            throw ValidationError("--head: expected retinanet or classification, got '\(head)'")
        }
        let plan = try ModelBuilder.build(spec, options: options)
        let summary = ModelSummary(spec: spec, plan: plan)
        print(json ? summary.json : summary.text)
    }
}
