/// Errors the search reports to the user: each names the file and what was expected.
public enum SearchError: Error, CustomStringConvertible {
    case badSpace(file: String, field: String, expected: String)
    case badLog(file: String, line: Int, reason: String)
    case foreignLog(file: String, line: Int, reason: String)
    case nothingEvaluated(folder: String)

    public var description: String {
        switch self {
        case .badSpace(let file, let field, let expected): return "\(file): field '\(field)': expected \(expected)"
        case .badLog(let file, let line, let reason): return "\(file):\(line): not a search log entry: \(reason)"
        case .foreignLog(let file, let line, let reason):
            return "\(file):\(line): \(reason); move the log away (or give the space another name) to start afresh"
        case .nothingEvaluated(let folder): return "\(folder): no evaluated candidates of this space to choose from"
        }
    }
}
