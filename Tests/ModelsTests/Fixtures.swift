import Foundation
@testable import Models

/// The package's own specs directory, found from this file's path (independent of the working directory).
let specsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("ablations/specs").path

let library: SpecLibrary = try! SpecLibrary(directory: specsDirectory)

func spec(_ name: String) -> ModelSpec { try! library.spec(named: name) }

func plan(_ name: String, _ options: ModelOptions = ModelOptions()) -> ModelPlan {
    try! ModelBuilder.build(spec(name), options: options)
}

/// The SpineNet-49 block list as printed in docs/paper-facts.md §4: (level, type, parents, output).
let spineNet49Table: [(Int, BlockType, [Int], Bool)] = [
    (2, .bottleneck, [0, 1], false), (4, .residual, [0, 1], false), (3, .bottleneck, [2, 3], false),
    (4, .bottleneck, [2, 4], false), (6, .residual, [3, 5], false), (4, .bottleneck, [3, 5], false),
    (5, .residual, [6, 7], false), (7, .residual, [6, 8], false), (5, .bottleneck, [8, 9], false),
    (5, .bottleneck, [8, 10], false), (4, .bottleneck, [5, 10], true), (3, .bottleneck, [4, 10], true),
    (5, .bottleneck, [7, 12], true), (7, .bottleneck, [5, 14], true), (6, .bottleneck, [12, 14], true),
]
