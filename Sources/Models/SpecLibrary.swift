import Foundation

/// All architectures known to the tool: every `*.yaml` in a specs directory and its immediate subfolders
/// (`random/` holds the random members of the search spaces, ablations/search/README.md), plus the graph-damage
/// variants (`NAME-no-short`, `NAME-no-long`, `NAME-sequential`) of any scale-permuted spec.
///
/// Where the specs come from (`SpecLibrary.standard()`), first hit wins:
/// 1. the directory in the environment variable `SPINEBENCH_SPECS`;
/// 2. `ablations/specs` in the current directory or any parent (running inside the package);
/// 3. `ablations/specs` above the running executable (`.build/release/spinebench` sits in the package).
/// The YAML files are the single source: nothing is embedded in the binary.
public struct SpecLibrary: Sendable {
    public let directory: String
    public let specs: [ModelSpec]

    /// The paper's model names, in the order the tool lists them.
    public static let paperNames = [
        "spinenet-49s", "spinenet-49", "spinenet-96", "spinenet-143", "spinenet-190", "r50-fpn", "r101-fpn",
        "r152-fpn", "r35-sp18", "r23-sp30", "r14-sp39", "r0-sp53", "hourglass", "fish", "r0-sp53-no-short",
        "r0-sp53-no-long", "r0-sp53-sequential",
    ]

    /// Names that appear in summaries of the paper but are not its models.
    static let misnamed = ["r35-sp39": "R35-SP18", "r23-sp53": "R23-SP30"]

    public init(directory: String) throws {
        let fm = FileManager.default
        guard let files = try? fm.contentsOfDirectory(atPath: directory) else {
            throw SpecError(file: directory, field: "-", message: "cannot read the specs directory")
        }
        let folders = files.sorted().filter { name in
            var isFolder: ObjCBool = false
            return fm.fileExists(atPath: (directory as NSString).appendingPathComponent(name), isDirectory: &isFolder)
                && isFolder.boolValue
        }
        let paths = ([""] + folders).flatMap { folder -> [String] in
            let dir = folder.isEmpty ? directory : (directory as NSString).appendingPathComponent(folder)
            let names = folder.isEmpty ? files : ((try? fm.contentsOfDirectory(atPath: dir)) ?? [])
            return names.sorted().filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
                .map { (dir as NSString).appendingPathComponent($0) }
        }
        var specs: [ModelSpec] = []
        for path in paths {
            guard let text = fm.contents(atPath: path).flatMap({ String(data: $0, encoding: .utf8) }) else {
                throw SpecError(file: path, field: "-", message: "cannot read the file as UTF-8 text")
            }
            let spec = try ModelSpec.parse(yaml: text, file: path)
            if let clash = specs.first(where: { Set($0.allNames).intersection(spec.allNames).count > 0 }) {
                throw SpecError(file: path, field: "name", message: "'\(spec.name)' clashes with spec '\(clash.name)'")
            }
            specs.append(spec)
        }
        self.directory = directory
        self.specs = specs
    }

    /// Loads the specs from the first location that exists (see the type's doc comment).
    public static func standard() throws -> SpecLibrary {
        guard let dir = locate() else {
            throw SpecError(file: "ablations/specs", field: "-", message:
                "no specs directory found: set SPINEBENCH_SPECS, or run inside the spinebench package")
        }
        return try SpecLibrary(directory: dir)
    }

    public static func locate() -> String? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["SPINEBENCH_SPECS"], !env.isEmpty { return env }
        let starts = [fm.currentDirectoryPath, (CommandLine.arguments.first.map { ($0 as NSString).deletingLastPathComponent }) ?? ""]
        for start in starts where !start.isEmpty {
            var dir = URL(fileURLWithPath: start).standardizedFileURL
            while true {
                let candidate = dir.appendingPathComponent("ablations/specs").path
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: candidate, isDirectory: &isDir), isDir.boolValue { return candidate }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        return nil
    }

    /// Every accepted name: the paper's names first, then other specs in file order.
    public var modelNames: [String] {
        let own = specs.map(\.name)
        return Self.paperNames.filter { find($0) != nil } + own.filter { !Self.paperNames.contains($0) }
    }

    /// A spec by normalised name or alias, or a damage variant of a scale-permuted one.
    private func find(_ name: String) -> ModelSpec? {
        if let spec = specs.first(where: { $0.allNames.contains(name) }) { return spec }
        for damage in GraphDamage.allCases where name.hasSuffix("-" + damage.rawValue) {
            let base = String(name.dropLast(damage.rawValue.count + 1))
            if let spec = specs.first(where: { $0.allNames.contains(base) }), spec.family == .scalePermuted {
                return damage.apply(to: spec)
            }
        }
        return nil
    }

    /// Case-insensitive; the paper's spelling ("SpineNet-49", "R0-SP53") is accepted.
    public func spec(named raw: String) throws -> ModelSpec {
        let name = Self.normalise(raw)
        if let spec = find(name) { return spec }
        if let paper = Self.misnamed[name] {
            throw ModelNameError(description:
                "'\(raw)' is not a model of the SpineNet paper (did you mean \(paper)? the paper's R[N]-SP[M] family is R35-SP18, R23-SP30, R14-SP39, R0-SP53)")
        }
        throw ModelNameError(description: "unknown model '\(raw)'; valid names: \(modelNames.joined(separator: ", "))")
    }

    static func normalise(_ name: String) -> String {
        name.trimmingCharacters(in: .whitespaces).lowercased()
            .replacingOccurrences(of: "_", with: "-").replacingOccurrences(of: " ", with: "-")
    }
}

public struct ModelNameError: Error, CustomStringConvertible {
    public let description: String
}

extension ModelSpec {
    /// The name and aliases, normalised for lookup.
    var allNames: [String] { ([name] + aliases).map(SpecLibrary.normalise) }
}
