import CHDF5
import Foundation

/// A small Swift layer over libhdf5: files, groups, chunked datasets, attributes and hyperslab reads.
/// Debian's libhdf5 is the serial (not thread-safe) build, so every call goes through one process-wide lock;
/// that lets a loader prefetch on its own thread while other code opens other files.
let hdf5Lock = NSRecursiveLock()

@inline(__always) func withHDF5<T>(_ body: () throws -> T) rethrows -> T {
    hdf5Lock.lock()
    defer { hdf5Lock.unlock() }
    return try body()
}

/// Element types that map to an HDF5 native type.
public protocol H5Scalar: Sendable {
    static var h5Type: hid_t { get }
    static var kind: H5ElementKind { get }
    init()
}

/// What a dataset holds, as read from the file (so validation can name the wrong dtype).
public enum H5ElementKind: Equatable, Sendable, CustomStringConvertible {
    case uint8, int32, int64, float32, float64, string, other(String)
    public var description: String {
        switch self {
        case .uint8: return "uint8"
        case .int32: return "int32"
        case .int64: return "int64"
        case .float32: return "float32"
        case .float64: return "float64"
        case .string: return "string"
        case .other(let s): return s
        }
    }
}

extension UInt8: H5Scalar { public static var h5Type: hid_t { shim_H5T_NATIVE_UINT8() }; public static var kind: H5ElementKind { .uint8 } }
extension Int32: H5Scalar { public static var h5Type: hid_t { shim_H5T_NATIVE_INT32() }; public static var kind: H5ElementKind { .int32 } }
extension Int64: H5Scalar { public static var h5Type: hid_t { shim_H5T_NATIVE_INT64() }; public static var kind: H5ElementKind { .int64 } }
extension Float: H5Scalar { public static var h5Type: hid_t { shim_H5T_NATIVE_FLOAT() }; public static var kind: H5ElementKind { .float32 } }
extension Double: H5Scalar { public static var h5Type: hid_t { shim_H5T_NATIVE_DOUBLE() }; public static var kind: H5ElementKind { .float64 } }

/// An open HDF5 file. Objects are addressed by path ("train/images"); closed on deinit.
public final class H5File: @unchecked Sendable {
    public let path: String
    let id: hid_t
    private var closed = false

    private init(path: String, id: hid_t) {
        self.path = path
        self.id = id
    }

    deinit { close() }

    /// Flushes and closes now (needed before renaming a freshly written file). Datasets still open keep
    /// HDF5's handle alive until they are released, so drop them first.
    public func close() {
        withHDF5 {
            if !closed { _ = H5Fclose(id); closed = true }
        }
    }

    func fail(_ object: String, _ message: String) -> DataError { DataError(file: path, field: object, message) }

    /// Creates (truncating) a file for writing.
    public static func create(_ path: String) throws -> H5File {
        try withHDF5 {
            shim_H5_silence_errors()
            let id = H5Fcreate(path, shim_H5F_ACC_TRUNC(), shim_H5P_DEFAULT(), shim_H5P_DEFAULT())
            guard id >= 0 else { throw DataError(file: path, field: "", "cannot create HDF5 file") }
            return H5File(path: path, id: id)
        }
    }

    /// Creates a file that lives in memory until `image()` hands its bytes over. Builders write this way so
    /// that libhdf5 never meets a full disk (its error path there crashes); the bytes reach the disk through
    /// `DurableFile`, which checks every call.
    public static func createInMemory(name: String) throws -> H5File {
        try withHDF5 {
            shim_H5_silence_errors()
            let fapl = H5Pcreate(shim_H5P_FILE_ACCESS())
            defer { H5Pclose(fapl) }
            guard fapl >= 0, H5Pset_fapl_core(fapl, 64 << 20, false) >= 0 else {
                throw DataError(file: name, field: "", "cannot set up an in-memory HDF5 file")
            }
            let id = H5Fcreate(name, shim_H5F_ACC_TRUNC(), shim_H5P_DEFAULT(), fapl)
            guard id >= 0 else { throw DataError(file: name, field: "", "cannot create in-memory HDF5 file") }
            return H5File(path: name, id: id)
        }
    }

    /// The complete file as bytes (flushed first); for files made by `createInMemory`.
    public func image() throws -> [UInt8] {
        try withHDF5 {
            guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else { throw fail("", "cannot flush") }
            let size = H5Fget_file_image(id, nil, 0)
            guard size > 0 else { throw fail("", "cannot get the file image") }
            var bytes = [UInt8](repeating: 0, count: size)
            let got = bytes.withUnsafeMutableBytes { H5Fget_file_image(id, $0.baseAddress, size) }
            guard got == size else { throw fail("", "file image came back short (\(got) of \(size) bytes)") }
            return bytes
        }
    }

    /// Opens an existing file; a missing, truncated or corrupt file fails here with a message saying which.
    public static func open(_ path: String, writable: Bool = false) throws -> H5File {
        try withHDF5 {
            shim_H5_silence_errors()
            guard FileManager.default.fileExists(atPath: path) else {
                throw DataError(file: path, field: "", "no such file")
            }
            guard H5Fis_hdf5(path) > 0 else {
                throw DataError(file: path, field: "", "not an HDF5 file (no HDF5 signature: truncated, corrupt or another format)")
            }
            let id = H5Fopen(path, writable ? shim_H5F_ACC_RDWR() : shim_H5F_ACC_RDONLY(), shim_H5P_DEFAULT())
            guard id >= 0 else {
                throw DataError(file: path, field: "", "cannot open HDF5 file (truncated or corrupt: \(topErrorMessage()))")
            }
            return H5File(path: path, id: id)
        }
    }

    /// True if every component of `objectPath` exists (H5Lexists needs the parents to exist first).
    public func exists(_ objectPath: String) -> Bool {
        withHDF5 {
            var prefix = ""
            for part in objectPath.split(separator: "/") {
                prefix += (prefix.isEmpty ? "" : "/") + part
                if H5Lexists(id, prefix, shim_H5P_DEFAULT()) <= 0 { return false }
            }
            return true
        }
    }

    public func createGroup(_ objectPath: String) throws {
        try withHDF5 {
            let g = H5Gcreate2(id, objectPath, shim_H5P_DEFAULT(), shim_H5P_DEFAULT(), shim_H5P_DEFAULT())
            guard g >= 0 else { throw fail(objectPath, "cannot create group") }
            H5Gclose(g)
        }
    }

    /// Creates a dataset of `shape`; `chunk` (same rank) turns on chunked storage, e.g. one image per chunk.
    @discardableResult
    public func createDataset<T: H5Scalar>(_ objectPath: String, of: T.Type, shape: [Int], chunk: [Int]? = nil) throws -> H5Dataset {
        try withHDF5 {
            var dims = shape.map { hsize_t($0) }
            let space = H5Screate_simple(Int32(dims.count), &dims, nil)
            guard space >= 0 else { throw fail(objectPath, "cannot create dataspace \(shape)") }
            defer { H5Sclose(space) }
            let dcpl = H5Pcreate(shim_H5P_DATASET_CREATE())
            defer { H5Pclose(dcpl) }
            if let chunk, shape.allSatisfy({ $0 > 0 }) {
                var c = zip(chunk, shape).map { hsize_t(Swift.max(1, Swift.min($0, $1))) }
                guard H5Pset_chunk(dcpl, Int32(c.count), &c) >= 0 else { throw fail(objectPath, "cannot set chunk \(chunk)") }
            }
            let d = H5Dcreate2(id, objectPath, T.h5Type, space, shim_H5P_DEFAULT(), dcpl, shim_H5P_DEFAULT())
            guard d >= 0 else { throw fail(objectPath, "cannot create dataset") }
            return H5Dataset(file: self, path: objectPath, id: d)
        }
    }

    /// Creates a dataset and writes all of `data` into it.
    public func writeDataset<T: H5Scalar>(_ objectPath: String, shape: [Int], data: [T], chunk: [Int]? = nil) throws {
        let ds = try createDataset(objectPath, of: T.self, shape: shape, chunk: chunk)
        try ds.write(start: shape.map { _ in 0 }, count: shape, data: data)
    }

    public func openDataset(_ objectPath: String) throws -> H5Dataset {
        try withHDF5 {
            guard exists(objectPath) else { throw fail(objectPath, "missing (no such dataset)") }
            let d = H5Dopen2(id, objectPath, shim_H5P_DEFAULT())
            guard d >= 0 else { throw fail(objectPath, "cannot open as a dataset (\(topErrorMessage()))") }
            return H5Dataset(file: self, path: objectPath, id: d)
        }
    }

    /// Reads a whole dataset after checking its element type.
    public func read<T: H5Scalar>(_ objectPath: String, as: T.Type) throws -> [T] {
        let ds = try openDataset(objectPath)
        try ds.expect(kind: T.kind)
        return try ds.read(start: ds.shape.map { _ in 0 }, count: ds.shape)
    }

    // MARK: attributes

    /// Writes (replacing) an attribute; `objectPath` "/" is the root.
    private func writeAttribute(_ objectPath: String, _ name: String, type: hid_t, dims: [Int]?, _ buffer: UnsafeRawPointer) throws {
        try withHDF5 {
            var d = (dims ?? []).map { hsize_t($0) }
            let space = dims == nil ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(d.count), &d, nil)
            defer { H5Sclose(space) }
            if H5Aexists_by_name(id, objectPath, name, shim_H5P_DEFAULT()) > 0 {
                H5Adelete_by_name(id, objectPath, name, shim_H5P_DEFAULT())
            }
            let a = H5Acreate_by_name(id, objectPath, name, type, space, shim_H5P_DEFAULT(), shim_H5P_DEFAULT(), shim_H5P_DEFAULT())
            guard a >= 0 else { throw fail(objectPath == "/" ? name : "\(objectPath)@\(name)", "cannot create attribute") }
            defer { H5Aclose(a) }
            guard H5Awrite(a, type, buffer) >= 0 else { throw fail(name, "cannot write attribute") }
        }
    }

    public func setAttribute(_ name: String, _ value: Int64, on objectPath: String = "/") throws {
        var v = value
        try writeAttribute(objectPath, name, type: Int64.h5Type, dims: nil, &v)
    }

    public func setAttribute(_ name: String, _ value: Double, on objectPath: String = "/") throws {
        var v = value
        try writeAttribute(objectPath, name, type: Double.h5Type, dims: nil, &v)
    }

    public func setAttribute(_ name: String, _ value: String, on objectPath: String = "/") throws {
        try setStrings(name, [value], scalar: true, on: objectPath)
    }

    public func setAttribute(_ name: String, _ values: [String], on objectPath: String = "/") throws {
        try setStrings(name, values, scalar: false, on: objectPath)
    }

    /// Strings are stored fixed-length, null-padded (readable by h5dump and h5py without vlen handling).
    private func setStrings(_ name: String, _ values: [String], scalar: Bool, on objectPath: String) throws {
        let width = Swift.max(1, values.map { $0.utf8.count }.max() ?? 1)
        var bytes = [UInt8](repeating: 0, count: width * Swift.max(1, values.count))
        for (i, s) in values.enumerated() { for (j, b) in s.utf8.enumerated() { bytes[i * width + j] = b } }
        let type = withHDF5 { () -> hid_t in
            let t = H5Tcopy(shim_H5T_C_S1())
            H5Tset_size(t, width)
            H5Tset_strpad(t, H5T_STR_NULLPAD)
            return t
        }
        defer { withHDF5 { _ = H5Tclose(type) } }
        try writeAttribute(objectPath, name, type: type, dims: scalar ? nil : [values.count], bytes)
    }

    public func hasAttribute(_ name: String, on objectPath: String = "/") -> Bool {
        withHDF5 { exists(objectPath == "/" ? "" : objectPath) && H5Aexists_by_name(id, objectPath, name, shim_H5P_DEFAULT()) > 0 }
    }

    /// Opens an attribute and hands its id, type class and element count to `body`.
    private func withAttribute<R>(_ name: String, on objectPath: String, _ body: (hid_t, H5T_class_t, Int, hid_t) throws -> R) throws -> R {
        try withHDF5 {
            let label = objectPath == "/" ? name : "\(objectPath)@\(name)"
            guard hasAttribute(name, on: objectPath) else { throw fail(label, "missing attribute") }
            let a = H5Aopen_by_name(id, objectPath, name, shim_H5P_DEFAULT(), shim_H5P_DEFAULT())
            guard a >= 0 else { throw fail(label, "cannot open attribute") }
            defer { H5Aclose(a) }
            let t = H5Aget_type(a)
            defer { H5Tclose(t) }
            let space = H5Aget_space(a)
            defer { H5Sclose(space) }
            let n = Int(H5Sget_simple_extent_npoints(space))
            return try body(a, H5Tget_class(t), n, t)
        }
    }

    public func intAttribute(_ name: String, on objectPath: String = "/") throws -> Int64 {
        try withAttribute(name, on: objectPath) { a, cls, n, _ in
            guard cls == H5T_INTEGER, n == 1 else { throw fail(name, "expected a scalar integer attribute") }
            var v: Int64 = 0
            guard H5Aread(a, Int64.h5Type, &v) >= 0 else { throw fail(name, "cannot read attribute") }
            return v
        }
    }

    public func doubleAttribute(_ name: String, on objectPath: String = "/") throws -> Double {
        try withAttribute(name, on: objectPath) { a, cls, n, _ in
            guard cls == H5T_FLOAT || cls == H5T_INTEGER, n == 1 else { throw fail(name, "expected a scalar number attribute") }
            var v: Double = 0
            guard H5Aread(a, Double.h5Type, &v) >= 0 else { throw fail(name, "cannot read attribute") }
            return v
        }
    }

    public func stringArrayAttribute(_ name: String, on objectPath: String = "/") throws -> [String] {
        try withAttribute(name, on: objectPath) { a, cls, n, t in
            guard cls == H5T_STRING, H5Tis_variable_str(t) == 0 else {
                throw fail(name, "expected a fixed-length string attribute")
            }
            let width = H5Tget_size(t)
            var bytes = [UInt8](repeating: 0, count: width * Swift.max(1, n))
            guard H5Aread(a, t, &bytes) >= 0 else { throw fail(name, "cannot read attribute") }
            return (0..<n).map { i in
                let slice = bytes[(i * width)..<((i + 1) * width)].prefix { $0 != 0 }
                return String(decoding: slice, as: UTF8.self)
            }
        }
    }

    public func stringAttribute(_ name: String, on objectPath: String = "/") throws -> String {
        let values = try stringArrayAttribute(name, on: objectPath)
        guard values.count == 1 else { throw fail(name, "expected one string, found \(values.count)") }
        return values[0]
    }
}

/// An open dataset with its shape and element kind; reads and writes rectangular blocks (hyperslabs).
public final class H5Dataset: @unchecked Sendable {
    public let file: H5File
    public let path: String
    let id: hid_t
    public let shape: [Int]
    public let kind: H5ElementKind

    init(file: H5File, path: String, id: hid_t) {
        self.file = file
        self.path = path
        self.id = id
        (shape, kind) = withHDF5 {
            let space = H5Dget_space(id)
            defer { H5Sclose(space) }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            var dims = [hsize_t](repeating: 0, count: Swift.max(rank, 0))
            if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
            let t = H5Dget_type(id)
            defer { H5Tclose(t) }
            return (dims.map { Int($0) }, H5Dataset.kindOf(t))
        }
    }

    deinit { withHDF5 { _ = H5Dclose(id) } }

    static func kindOf(_ t: hid_t) -> H5ElementKind {
        let size = H5Tget_size(t)
        switch H5Tget_class(t) {
        case H5T_INTEGER:
            let signed = H5Tget_sign(t) != H5T_SGN_NONE
            switch (signed, size) {
            case (false, 1): return .uint8
            case (true, 4): return .int32
            case (true, 8): return .int64
            default: return .other("\(signed ? "int" : "uint")\(size * 8)")
            }
        case H5T_FLOAT: return size == 4 ? .float32 : size == 8 ? .float64 : .other("float\(size * 8)")
        case H5T_STRING: return .string
        default: return .other("non-numeric")
        }
    }

    /// Fails unless the stored element type is `kind` (numbers are never silently converted).
    public func expect(kind expected: H5ElementKind, rank: Int? = nil) throws {
        guard kind == expected else {
            throw file.fail(path, "wrong dtype: expected \(expected), found \(kind)")
        }
        if let rank, shape.count != rank {
            throw file.fail(path, "wrong rank: expected \(rank) dimensions, found \(shape.count) \(shape)")
        }
    }

    private func withSelection<R>(_ start: [Int], _ count: [Int], _ body: (hid_t, hid_t) throws -> R) throws -> R {
        guard start.count == shape.count, count.count == shape.count,
              zip(zip(start, count), shape).allSatisfy({ $0.0 >= 0 && $0.1 >= 0 && $0.0 + $0.1 <= $1 }) else {
            throw file.fail(path, "hyperslab start \(start) count \(count) outside shape \(shape)")
        }
        return try withHDF5 {
            let fileSpace = H5Dget_space(id)
            defer { H5Sclose(fileSpace) }
            var s = start.map { hsize_t($0) }, c = count.map { hsize_t($0) }
            if !shape.isEmpty {
                guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &s, nil, &c, nil) >= 0 else {
                    throw file.fail(path, "cannot select hyperslab")
                }
            }
            let memSpace = c.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(c.count), &c, nil)
            defer { H5Sclose(memSpace) }
            return try body(memSpace, fileSpace)
        }
    }

    /// Reads the block [start, start+count) into `buffer` (which must hold count.product elements).
    public func read<T: H5Scalar>(start: [Int], count: [Int], into buffer: UnsafeMutablePointer<T>) throws {
        try expect(kind: T.kind)
        if count.contains(0) { return }
        try withSelection(start, count) { mem, fileSpace in
            guard H5Dread(id, T.h5Type, mem, fileSpace, shim_H5P_DEFAULT(), buffer) >= 0 else {
                throw file.fail(path, "read failed at \(start) count \(count) (truncated or corrupt data?)")
            }
        }
    }

    public func read<T: H5Scalar>(start: [Int], count: [Int]) throws -> [T] {
        var out = [T](repeating: T(), count: count.reduce(1, *))
        try out.withUnsafeMutableBufferPointer { try read(start: start, count: count, into: $0.baseAddress!) }
        return out
    }

    public func write<T: H5Scalar>(start: [Int], count: [Int], data: [T]) throws {
        guard data.count == count.reduce(1, *) else {
            throw file.fail(path, "write of \(data.count) elements into a block of \(count)")
        }
        try expect(kind: T.kind)
        if count.contains(0) { return }
        try withSelection(start, count) { mem, fileSpace in
            let status = data.withUnsafeBytes { H5Dwrite(id, T.h5Type, mem, fileSpace, shim_H5P_DEFAULT(), $0.baseAddress) }
            guard status >= 0 else {
                throw file.fail(path, "write failed at \(start) count \(count)")
            }
        }
    }
}

/// The innermost message of HDF5's current error stack (the specific reason, e.g. "truncated file: eof = ...").
func topErrorMessage() -> String {
    let box = ErrorText()
    let ctx = Unmanaged.passUnretained(box).toOpaque()
    H5Ewalk2(shim_H5E_DEFAULT(), H5E_WALK_DOWNWARD, { _, err, data in
        guard let err, let data, let desc = err.pointee.desc else { return 0 }
        let box = Unmanaged<ErrorText>.fromOpaque(data).takeUnretainedValue()
        let text = String(cString: desc)
        if !text.isEmpty { box.message = text }
        return 0
    }, ctx)
    return box.message.isEmpty ? "unknown HDF5 error" : box.message
}

private final class ErrorText { var message = "" }
