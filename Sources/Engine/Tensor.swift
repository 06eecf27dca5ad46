import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// glibc hands big blocks back to the kernel on free, so every step's activations would page-fault
/// (and be zeroed) again; keeping freed memory in the process removes that cost. Runs once.
let mallocTuned: Bool = {
    #if canImport(Glibc)
    // malloc.h is not in the Glibc module; look mallopt up instead (M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3).
    typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    if let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
        let mallopt = unsafeBitCast(sym, to: Mallopt.self)
        _ = mallopt(-3, 32 << 20)       // glibc's maximum; larger blocks still use mmap
        _ = mallopt(-1, Int32.max)      // never trim the heap top
    }
    #endif
    return true
}()

/// Reference-counted float32 storage. Tensors share it only for reshape, so a tensor's memory is freed
/// as soon as the last view of it goes away.
final class Storage: @unchecked Sendable {
    let ptr: UnsafeMutablePointer<Float>
    let count: Int
    init(count: Int) {
        _ = mallocTuned
        self.count = count
        ptr = .allocate(capacity: max(count, 1))
    }
    deinit { ptr.deallocate() }
}

/// A contiguous float32 array with a shape (NHWC for images). Storage is owned and reached through
/// `ptr`, so kernels touch raw memory without copies or closures.
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    let storage: Storage

    /// Raw element pointer (count elements). Valid while the tensor is alive.
    public var ptr: UnsafeMutablePointer<Float> { storage.ptr }
    public var count: Int { storage.count }
    public var rank: Int { shape.count }

    public init(shape: [Int], data: [Float]) {
        let n = Tensor.elementCount(shape)
        precondition(data.count == n, "Tensor(shape: \(shape)): data has \(data.count) elements, shape needs \(n)")
        storage = Storage(count: n)
        self.shape = shape
        data.withUnsafeBufferPointer { src in
            if n > 0 { storage.ptr.update(from: src.baseAddress!, count: n) }
        }
    }

    public init(zeros shape: [Int]) {
        let n = Tensor.elementCount(shape)
        storage = Storage(count: n)
        self.shape = shape
        storage.ptr.initialize(repeating: 0, count: max(n, 1))
    }

    public convenience init(shape: [Int], repeating v: Float) {
        self.init(uninitialized: shape)
        fill(v)
    }

    /// Uninitialised storage, for kernels that overwrite every element.
    init(uninitialized shape: [Int]) {
        storage = Storage(count: Tensor.elementCount(shape))
        self.shape = shape
    }

    init(shape: [Int], sharing storage: Storage) {
        precondition(Tensor.elementCount(shape) == storage.count,
                     "reshape to \(shape): needs \(Tensor.elementCount(shape)) elements, tensor has \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    /// Scalar tensor, shape [].
    public convenience init(scalar v: Float) { self.init(shape: [], data: [v]) }

    static func elementCount(_ shape: [Int]) -> Int {
        for d in shape { precondition(d >= 0, "negative dimension in shape \(shape)") }
        return shape.reduce(1, *)
    }

    /// A copy of the elements (get) or an overwrite of all of them (set). Each access is O(count):
    /// in loops read `let d = t.data` once, or use `t[i]` / `t.ptr`.
    public var data: [Float] {
        get { Array(UnsafeBufferPointer(start: ptr, count: count)) }
        set {
            precondition(newValue.count == count, "Tensor.data: assigning \(newValue.count) elements to shape \(shape)")
            if count > 0 { newValue.withUnsafeBufferPointer { ptr.update(from: $0.baseAddress!, count: count) } }
        }
    }

    public subscript(i: Int) -> Float {
        get { precondition(i >= 0 && i < count, "index \(i) out of range for shape \(shape)"); return ptr[i] }
        set { precondition(i >= 0 && i < count, "index \(i) out of range for shape \(shape)"); ptr[i] = newValue }
    }

    /// Value of a one-element tensor (a loss).
    public var scalar: Float {
        precondition(count == 1, "scalar: tensor has shape \(shape), expected one element")
        return ptr[0]
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: ptr, count: count))
    }
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: ptr, count: count))
    }

    /// Deep copy.
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.ptr.update(from: ptr, count: count)
        return t
    }

    /// Same elements, new shape (shares storage; ops never write into their inputs).
    public func reshaped(_ newShape: [Int]) -> Tensor { Tensor(shape: newShape, sharing: storage) }

    public func fill(_ v: Float) {
        let p = SendablePtr(ptr)
        Threads.parallelChunks(count, grain: 65536) { _, r in (p.p + r.lowerBound).update(repeating: v, count: r.count) }
    }

    /// self += other (same shape).
    public func add(_ other: Tensor) {
        precondition(other.shape == shape, "add: shapes \(shape) and \(other.shape) differ")
        let a = SendablePtr(ptr), b = SendablePtr(other.ptr)
        Threads.parallelChunks(count, grain: 32768) { _, r in for i in r { a.p[i] += b.p[i] } }
    }
}

/// Raw pointer carried into concurrent loops (each task writes disjoint ranges).
struct SendablePtr: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { self.p = p }
}
