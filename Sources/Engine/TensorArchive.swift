import Common
import Foundation

/// Error reading or writing a tensor archive; names the file and the entry.
public struct TensorArchiveError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}

/// A binary file holding an ordered list of named tensors (checkpoints, reference data).
/// Layout (little-endian): magic "SBTA", version u32 = 1, count u32; per entry: name length u32, UTF-8 name,
/// rank u32, rank x i64 dims, float32 data. Written through `DurableFile`, so a crash or a full disk never
/// leaves a half-written archive under the real name.
public enum TensorArchive {
    static let magic: [UInt8] = Array("SBTA".utf8)
    static let version: UInt32 = 1

    public static func write(_ entries: [(String, Tensor)], to path: String) throws {
        var bytes = [UInt8]()
        bytes.reserveCapacity(16 + entries.reduce(0) { $0 + 32 + $1.0.utf8.count + $1.1.count * 4 })
        bytes += magic
        append(&bytes, version)
        append(&bytes, UInt32(entries.count))
        for (name, t) in entries {
            let nb = Array(name.utf8)
            append(&bytes, UInt32(nb.count))
            bytes += nb
            append(&bytes, UInt32(t.shape.count))
            for d in t.shape { append(&bytes, UInt64(d)) }
            for i in 0..<t.count { append(&bytes, t.ptr[i].bitPattern) }
        }
        do {
            try DurableFile.write(bytes, to: path)
        } catch let e as DurableFileError {
            throw TensorArchiveError(path: path, message: "cannot write: \(e.reason)")
        }
    }

    public static func read(_ path: String) throws -> [(String, Tensor)] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TensorArchiveError(path: path, message: "cannot read file")
        }
        let bytes = [UInt8](data)
        var pos = 0
        func fail(_ m: String) -> TensorArchiveError { TensorArchiveError(path: path, message: m) }
        func need(_ n: Int, _ what: String) throws {
            if pos + n > bytes.count {
                throw fail("truncated: \(what) needs \(n) bytes at offset \(pos), file has \(bytes.count)")
            }
        }
        func uint<T: FixedWidthInteger & UnsignedInteger>(_ what: String) throws -> T {
            let size = MemoryLayout<T>.size
            try need(size, what)
            var v: T = 0
            for i in 0..<size { v |= T(bytes[pos + i]) << (8 * i) }
            pos += size
            return v
        }
        func u32(_ what: String) throws -> UInt32 { try uint(what) }
        func u64(_ what: String) throws -> UInt64 { try uint(what) }
        try need(4, "magic")
        guard Array(bytes[0..<4]) == magic else { throw fail("not a tensor archive (magic \(bytes[0..<4].map { $0 }), expected \"SBTA\")") }
        pos = 4
        let ver = try u32("version")
        guard ver == version else { throw fail("version \(ver), expected \(version)") }
        let count = Int(try u32("entry count"))
        var out = [(String, Tensor)]()
        for e in 0..<count {
            let where_ = "entry \(e)"
            let nlen = Int(try u32("\(where_) name length"))
            try need(nlen, "\(where_) name")
            guard let name = String(bytes: bytes[pos..<(pos + nlen)], encoding: .utf8) else { throw fail("\(where_): name is not UTF-8") }
            pos += nlen
            let rank = Int(try u32("entry '\(name)' rank"))
            guard rank <= 16 else { throw fail("entry '\(name)': rank \(rank) is implausible (max 16)") }
            var shape = [Int]()
            for _ in 0..<rank {
                let d = try u64("entry '\(name)' shape")
                guard d < (1 << 40) else { throw fail("entry '\(name)': dimension \(d) is implausible") }
                shape.append(Int(d))
            }
            let n = shape.reduce(1, *)
            try need(n * 4, "entry '\(name)' data (shape \(shape))")
            let t = Tensor(zeros: shape)
            bytes.withUnsafeBytes { raw in
                for i in 0..<n { t.ptr[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: pos + 4 * i, as: UInt32.self).littleEndian) }
            }
            pos += n * 4
            out.append((name, t))
        }
        if pos != bytes.count { throw fail("\(bytes.count - pos) trailing bytes after \(count) entries") }
        return out
    }

    /// Reads an archive and checks it holds exactly the expected names and shapes, in order.
    public static func read(_ path: String, expecting expected: [(String, [Int])]) throws -> [Tensor] {
        let entries = try read(path)
        guard entries.count == expected.count else {
            throw TensorArchiveError(path: path, message: "has \(entries.count) entries, expected \(expected.count)")
        }
        for (i, ((name, t), (ename, eshape))) in zip(entries, expected).enumerated() {
            guard name == ename else {
                throw TensorArchiveError(path: path, message: "entry \(i) is '\(name)', expected '\(ename)'")
            }
            guard t.shape == eshape else {
                throw TensorArchiveError(path: path, message: "entry '\(name)' has shape \(t.shape), expected \(eshape)")
            }
        }
        return entries.map(\.1)
    }

    /// Little-endian bytes of v.
    private static func append<T: FixedWidthInteger>(_ b: inout [UInt8], _ v: T) {
        for i in 0..<MemoryLayout<T>.size { b.append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
    }
}
