import Foundation

/// A file whose `train` split is the first images of another file's train split and whose `val` split is
/// the last `heldOut` images of that same train split. The architecture search scores candidates on it, so
/// the search never reads the source's val split (the one the tables report).
///
/// The source's root attributes are kept (class names, seed); `source` says which images were taken from
/// where, and the checksum covers the new content.
/// Returns the new file's checksum.
@discardableResult
public func writeHeldOutSplit(from sourcePath: String, heldOut: Int, to path: String) throws -> String {
    let source = try DatasetFile.open(sourcePath)
    let train = try source.split("train")
    guard heldOut >= 1, heldOut < train.count else {
        throw DataError(file: sourcePath, field: "train",
                        "cannot hold out \(heldOut) of \(train.count) train images (need 1 ..< \(train.count))")
    }
    let kept = train.count - heldOut
    let writer = try DatasetWriter(path: path)
    do {
        for (name, range) in [("train", 0..<kept), ("val", kept..<train.count)] {
            try writer.beginSplit(name, count: range.count, height: train.height, width: train.width, channels: train.channels)
            let block = 256
            var start = range.lowerBound
            while start < range.upperBound {
                let n = min(block, range.upperBound - start)
                try writer.writeImages(start: start - range.lowerBound, count: n, try train.readImages(start: start, count: n))
                start += n
            }
            let first = Int(train.offsets[range.lowerBound]), last = Int(train.offsets[range.upperBound])
            let offsets = train.offsets[range.lowerBound...range.upperBound].map { $0 - Int64(first) }
            try writer.endSplit(boxes: Array(train.allBoxes[first..<last]), labels: Array(train.allLabels[first..<last]),
                                offsets: offsets)
        }
        let note = "train split of \(sourcePath) (checksum \(source.checksum)): train = its images 0..<\(kept), "
            + "val = its images \(kept)..<\(train.count) (held out); source: \(source.source)"
        let params: [(String, Int64)] = [("train", Int64(kept)), ("val", Int64(heldOut)), ("held_out_of", Int64(train.count))]
        return try writer.finish(name: source.name + "-heldout", kind: source.builder + "-heldout",
                                 classNames: source.classNames, source: note, seed: source.seed, params: params)
    } catch {
        writer.abort()
        throw error
    }
}
