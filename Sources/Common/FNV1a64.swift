/// 64-bit FNV-1a over raw bytes: the one hash of the project (dataset checksums, config and code hashes,
/// layer RNG streams). The dataset checksum feeds, in this fixed order, for split in (train, val): images
/// (uint8, row-major N,H,W,C), boxes (float32 little-endian), labels (int32 LE), box_offsets (int64 LE).
/// Printed as 16 lowercase hex digits, prefixed "fnv1a64:".
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        value = h
    }

    /// Hashes the in-memory bytes of numbers (little-endian on every platform Swift runs on here).
    public mutating func update<T>(_ values: [T]) {
        values.withUnsafeBytes { update($0) }
    }

    /// The hash of a string's UTF-8 bytes.
    public static func of(_ text: String) -> UInt64 {
        var h = FNV1a64()
        h.update(Array(text.utf8))
        return h.value
    }

    /// The value as 16 lowercase hex digits.
    public var digits: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// "fnv1a64:" and the digits: how dataset checksums are written.
    public var hex: String { "fnv1a64:" + digits }
}
