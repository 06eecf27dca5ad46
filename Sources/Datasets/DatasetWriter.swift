import Common
import Foundation

/// Writes a dataset file in the spinebench layout (see DatasetFile for the layout) and computes its
/// checksum as it goes. The file is built in memory and reaches the disk only in `finish`, through
/// `DurableFile` (temp file, fsync, rename): an interrupted build or a full disk never leaves a half-written
/// file under the final name, nor touches the file already there.
final class DatasetWriter {
    let finalPath: String
    private var file: H5File?
    private var images: H5Dataset?
    private var split = ""
    private var hash = FNV1a64()
    private var splitsWritten: [String] = []

    init(path: String) throws {
        finalPath = path
        file = try H5File.createInMemory(name: path)
    }

    /// Starts a split: creates the group and an images dataset [N,H,W,C] chunked one image per chunk.
    func beginSplit(_ name: String, count: Int, height: Int, width: Int, channels: Int) throws {
        guard let file else { return }
        split = name
        try file.createGroup(name)
        images = try file.createDataset("\(name)/images", of: UInt8.self, shape: [count, height, width, channels],
                                        chunk: [1, height, width, channels])
    }

    /// Writes images [start, start+n) of the current split; must be called in order (the checksum is streamed).
    func writeImages(start: Int, count n: Int, _ pixels: [UInt8]) throws {
        guard let images else { return }
        var c = images.shape
        c[0] = n
        try images.write(start: [start, 0, 0, 0], count: c, data: pixels)
        hash.update(pixels)
    }

    /// Ends the split with its ragged boxes: boxes [M,4], labels [M], box_offsets [N+1].
    func endSplit(boxes: [Box], labels: [Int32], offsets: [Int64]) throws {
        guard let file else { return }
        images = nil
        let flat = boxes.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] }
        try file.writeDataset("\(split)/boxes", shape: [boxes.count, 4], data: flat)
        try file.writeDataset("\(split)/labels", shape: [labels.count], data: labels)
        try file.writeDataset("\(split)/box_offsets", shape: [offsets.count], data: offsets)
        try file.setAttribute("count", Int64(offsets.count - 1), on: split)
        hash.update(flat)
        hash.update(labels)
        hash.update(offsets)
        splitsWritten.append(split)
    }

    /// Writes the root attributes, closes and renames into place. Returns the content checksum.
    func finish(name: String, kind: String, classNames: [String], source: String, seed: UInt64,
                params: [(String, Int64)]) throws -> String {
        guard let file else { throw DataError(file: finalPath, field: "", "writer already finished") }
        let checksum = hash.hex
        try file.setAttribute("name", name)
        try file.setAttribute("builder", kind)
        try file.setAttribute("class_names", classNames)
        try file.setAttribute("source", source)
        try file.setAttribute("seed", Int64(bitPattern: seed))
        try file.setAttribute("format_version", Int64(DatasetFile.formatVersion))
        try file.setAttribute("checksum", checksum)
        try file.setAttribute("checksum_algorithm", DatasetFile.checksumAlgorithm)
        try file.setAttribute("builder_params", params.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
        for (key, value) in params { try file.setAttribute("param_" + key, value) }
        let bytes = try file.image()
        file.close()
        self.file = nil
        do {
            try DurableFile.write(bytes, to: finalPath)
        } catch let e as DurableFileError {
            throw DataError(file: finalPath, field: "", e.reason)
        }
        return checksum
    }

    /// Drops the unfinished file after a failure (nothing of it is on disk).
    func abort() {
        images = nil
        file?.close()
        file = nil
    }
}
