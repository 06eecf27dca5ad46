/// Errors the harness reports to the user: each names the file, the field and what was expected.
public enum HarnessError: Error, CustomStringConvertible {
    case badConfig(file: String, field: String, expected: String)
    case badRecord(file: String, field: String, expected: String)
    case badArgument(String)
    case interrupted(run: String)
    case io(path: String, reason: String)
    case git(String)

    public var description: String {
        switch self {
        case .badConfig(let file, let field, let expected):
            return "\(file): field '\(field)': expected \(expected)"
        case .badRecord(let file, let field, let expected):
            return "\(file): record field '\(field)': expected \(expected)"
        case .badArgument(let s): return s
        case .interrupted(let run): return "\(run): interrupted; starting it again resumes from its last checkpoint"
        case .io(let path, let reason): return "\(path): \(reason)"
        case .git(let s): return "git: \(s)"
        }
    }
}
