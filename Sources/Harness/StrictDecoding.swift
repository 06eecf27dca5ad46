import Foundation
import Yams

/// Experiment files are read strictly: a misspelt or unknown key is an error, never ignored, because a
/// setting that silently does nothing would still change what a reader believes a result was trained with.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    /// Throws when the mapping being decoded holds a key outside `Keys`.
    public func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ keys: Keys.Type) throws {
        let container = try self.container(keyedBy: AnyKey.self)
        let known = Set(Keys.allCases.map(\.stringValue))
        for key in container.allKeys where !known.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(.init(
                codingPath: codingPath + [key],
                debugDescription: "a known key (one of \(known.sorted().joined(separator: ", "))), not '\(key.stringValue)'"))
        }
    }
}

/// Decodes a YAML experiment file into `T`; errors name the file, the dotted field, its line and column.
public enum StrictYAML {
    public static func decode<T: Decodable>(_ type: T.Type, from text: String, file: String) throws -> T {
        do {
            return try YAMLDecoder().decode(T.self, from: text)
        } catch let error as DecodingError {
            if case .dataCorrupted(let c) = error, let syntax = c.underlyingError as? YamlError {
                throw HarnessError.badConfig(file: file, field: "(YAML syntax)", expected: "valid YAML: \(syntax)")
            }
            let field = error.fieldPath
            let at = location(of: error.codingPath, in: text).map { " (line \($0.line), column \($0.column))" } ?? ""
            throw HarnessError.badConfig(file: file, field: field + at, expected: error.plainDescription)
        } catch let error as YamlError {
            throw HarnessError.badConfig(file: file, field: "(YAML syntax)", expected: "valid YAML: \(error)")
        }
    }

    /// Line and column (1-based) of the key or value at `path`, or of its deepest existing parent.
    static func location(of path: [CodingKey], in text: String) -> (line: Int, column: Int)? {
        guard var node = try? Yams.compose(yaml: text) else { return nil }
        var mark = node.mark
        for key in path {
            if let index = key.intValue, let seq = node.sequence, index < seq.count {
                node = seq[index]
                mark = node.mark
            } else if let map = node.mapping,
                      let pair = map.first(where: { $0.key.string == key.stringValue }) {
                mark = pair.key.mark
                node = pair.value
            } else {
                break
            }
        }
        return mark.map { ($0.line, $0.column) }
    }
}

extension DecodingError {
    var codingPath: [CodingKey] {
        switch self {
        case .keyNotFound(let key, let c): return c.codingPath + [key]
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): return c.codingPath
        @unknown default: return []
        }
    }
}
