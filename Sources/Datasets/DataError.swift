/// Every failure in this module: which file, which object or field inside it, and what was wrong.
/// One type so callers can print it and users can see exactly what to fix.
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    /// HDF5 object path or field name ("train/box_offsets", "class_names", "IDX header"); empty for the file itself.
    public let field: String
    public let message: String

    public init(file: String, field: String, _ message: String) {
        self.file = file
        self.field = field
        self.message = message
    }

    public var description: String {
        field.isEmpty ? "\(file): \(message)" : "\(file): \(field): \(message)"
    }
}
