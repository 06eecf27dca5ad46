import Foundation

// The COCO annotation and result file formats (bbox only), read with errors that name the file and
// the field, and written with shortest round-trip numbers so pycocotools reads back the same values.

public struct CocoImage: Equatable, Sendable {
    public var id: Int
    public var width: Int
    public var height: Int
    public var fileName: String
    public init(id: Int, width: Int, height: Int, fileName: String = "") {
        self.id = id; self.width = width; self.height = height; self.fileName = fileName
    }
}

public struct CocoCategory: Equatable, Sendable {
    public var id: Int
    public var name: String
    public init(id: Int, name: String) { self.id = id; self.name = name }
}

/// A ground-truth object. `bbox` is [x, y, width, height] in pixels. Ids should be >= 1 (pycocotools
/// treats a ground-truth id of 0 as "unmatched"; this evaluator does not copy that quirk).
public struct CocoAnnotation: Equatable, Sendable {
    public var id: Int
    public var imageId: Int
    public var categoryId: Int
    public var bbox: [Double]
    /// The area used for the small/medium/large split; COCO stores the mask area here. nil: w*h.
    public var area: Double?
    public var isCrowd: Bool
    public init(id: Int, imageId: Int, categoryId: Int, bbox: [Double], area: Double? = nil, isCrowd: Bool = false) {
        self.id = id; self.imageId = imageId; self.categoryId = categoryId; self.bbox = bbox
        self.area = area; self.isCrowd = isCrowd
    }
}

/// One line of a COCO results file.
public struct CocoDetection: Equatable, Sendable {
    public var imageId: Int
    public var categoryId: Int
    public var bbox: [Double]
    public var score: Double
    public init(imageId: Int, categoryId: Int, bbox: [Double], score: Double) {
        self.imageId = imageId; self.categoryId = categoryId; self.bbox = bbox; self.score = score
    }
    /// From an x1,y1,x2,y2 box.
    public init(imageId: Int, categoryId: Int, box: Box, score: Float) {
        self.init(imageId: imageId, categoryId: categoryId,
                  bbox: [Double(box.x1), Double(box.y1), Double(box.width), Double(box.height)], score: Double(score))
    }
}

/// A COCO annotation file: images, annotations and categories.
public struct CocoGroundTruth: Equatable, Sendable {
    public var images: [CocoImage]
    public var annotations: [CocoAnnotation]
    public var categories: [CocoCategory]
    public init(images: [CocoImage], annotations: [CocoAnnotation], categories: [CocoCategory]) {
        self.images = images; self.annotations = annotations; self.categories = categories
    }

    /// Ground truth from x1,y1,x2,y2 boxes: image i gets id i+1, annotations get ids 1, 2, ...,
    /// category id = label (labels must be ids in `categories`).
    public init(imageSizes: [(width: Int, height: Int)], boxes: [[Box]], labels: [[Int]], categories: [CocoCategory]) {
        guard imageSizes.count == boxes.count && boxes.count == labels.count else {
            fatalError("CocoGroundTruth: imageSizes, boxes and labels differ in count")
        }
        var anns: [CocoAnnotation] = []
        for i in boxes.indices {
            guard boxes[i].count == labels[i].count else {
                fatalError("CocoGroundTruth: image \(i) has boxes and labels of different counts")
            }
            for (b, l) in zip(boxes[i], labels[i]) {
                let bbox = [Double(b.x1), Double(b.y1), Double(b.width), Double(b.height)]
                anns.append(CocoAnnotation(id: anns.count + 1, imageId: i + 1, categoryId: l, bbox: bbox,
                                           area: bbox[2] * bbox[3]))
            }
        }
        self.init(images: imageSizes.enumerated().map { CocoImage(id: $0.offset + 1, width: $0.element.width, height: $0.element.height) },
                  annotations: anns, categories: categories)
    }
}

public struct CocoFormatError: Error, CustomStringConvertible {
    public let description: String
}

// MARK: reading

/// Field access on parsed JSON with messages like "gt.json: annotations[3].bbox: expected 4 numbers".
private struct Reader {
    let file: String
    func fail(_ path: String, _ expected: String) -> CocoFormatError {
        CocoFormatError(description: "\(file): \(path): expected \(expected)")
    }
    func object(_ v: Any?, _ path: String) throws -> [String: Any] {
        guard let o = v as? [String: Any] else { throw fail(path, "an object") }
        return o
    }
    func array(_ v: Any?, _ path: String) throws -> [Any] {
        guard let a = v as? [Any] else { throw fail(path, v == nil ? "an array (field missing)" : "an array") }
        return a
    }
    func number(_ v: Any?, _ path: String) throws -> Double {
        guard let n = v as? NSNumber, n.doubleValue.isFinite else {
            throw fail(path, v == nil ? "a number (field missing)" : "a finite number")
        }
        return n.doubleValue
    }
    func int(_ v: Any?, _ path: String) throws -> Int {
        let d = try number(v, path)
        guard d == d.rounded(), abs(d) < 9e15 else { throw fail(path, "an integer") }
        return Int(d)
    }
    func bbox(_ v: Any?, _ path: String) throws -> [Double] {
        guard let a = v as? [Any], a.count == 4 else { throw fail(path, "[x, y, width, height] (4 numbers)") }
        return try a.enumerated().map { try number($0.element, "\(path)[\($0.offset)]") }
    }
    func parse(_ data: Data) throws -> Any {
        do { return try JSONSerialization.jsonObject(with: data) }
        catch { throw CocoFormatError(description: "\(file): not valid JSON (\(error.localizedDescription))") }
    }
}

private func readFile(_ path: String) throws -> Data {
    guard let d = FileManager.default.contents(atPath: path) else {
        throw CocoFormatError(description: "\(path): cannot read the file")
    }
    return d
}

extension CocoGroundTruth {
    public static func load(path: String) throws -> CocoGroundTruth {
        try parse(readFile(path), file: path)
    }

    public static func parse(_ data: Data, file: String = "<ground truth>") throws -> CocoGroundTruth {
        let r = Reader(file: file)
        let root = try r.object(r.parse(data), "top level")
        var images: [CocoImage] = []
        for (i, v) in try r.array(root["images"], "images").enumerated() {
            let o = try r.object(v, "images[\(i)]")
            images.append(CocoImage(id: try r.int(o["id"], "images[\(i)].id"),
                                    width: try o["width"].map { try r.int($0, "images[\(i)].width") } ?? 0,
                                    height: try o["height"].map { try r.int($0, "images[\(i)].height") } ?? 0,
                                    fileName: o["file_name"] as? String ?? ""))
        }
        var anns: [CocoAnnotation] = []
        for (i, v) in try r.array(root["annotations"] ?? [Any](), "annotations").enumerated() {
            let p = "annotations[\(i)]"
            let o = try r.object(v, p)
            var crowd = false
            if let c = o["iscrowd"] {
                if let b = c as? Bool { crowd = b } else { crowd = try r.int(c, "\(p).iscrowd") != 0 }
            }
            anns.append(CocoAnnotation(id: try r.int(o["id"], "\(p).id"),
                                       imageId: try r.int(o["image_id"], "\(p).image_id"),
                                       categoryId: try r.int(o["category_id"], "\(p).category_id"),
                                       bbox: try r.bbox(o["bbox"], "\(p).bbox"),
                                       area: try o["area"].map { try r.number($0, "\(p).area") },
                                       isCrowd: crowd))
        }
        var cats: [CocoCategory] = []
        for (i, v) in try r.array(root["categories"], "categories").enumerated() {
            let o = try r.object(v, "categories[\(i)]")
            cats.append(CocoCategory(id: try r.int(o["id"], "categories[\(i)].id"), name: o["name"] as? String ?? ""))
        }
        let gt = CocoGroundTruth(images: images, annotations: anns, categories: cats)
        try gt.checkConsistent(file: file)
        return gt
    }

    /// Ids unique, every annotation on a known image with a known category and a box of non-negative size:
    /// what pycocotools assumes without checking (it would score such a file silently wrong).
    func checkConsistent(file: String) throws {
        func fail(_ path: String, _ what: String) -> CocoFormatError { CocoFormatError(description: "\(file): \(path): \(what)") }
        var imageIds = Set<Int>(), catIds = Set<Int>(), annIds = Set<Int>()
        for (i, im) in images.enumerated() where !imageIds.insert(im.id).inserted {
            throw fail("images[\(i)].id", "\(im.id) appears twice")
        }
        for (i, c) in categories.enumerated() where !catIds.insert(c.id).inserted {
            throw fail("categories[\(i)].id", "\(c.id) appears twice")
        }
        for (i, a) in annotations.enumerated() {
            let p = "annotations[\(i)]"
            guard annIds.insert(a.id).inserted else { throw fail("\(p).id", "\(a.id) appears twice") }
            guard imageIds.contains(a.imageId) else { throw fail("\(p).image_id", "\(a.imageId) is not in images") }
            guard catIds.contains(a.categoryId) else { throw fail("\(p).category_id", "\(a.categoryId) is not in categories") }
            guard a.bbox[2] >= 0, a.bbox[3] >= 0 else {
                throw fail("\(p).bbox", "width and height must be >= 0, got \(a.bbox[2]) x \(a.bbox[3])")
            }
        }
    }

    /// Every detection on an image and a category of this ground truth, with a box of non-negative size
    /// (pycocotools refuses results on unknown images; anything else would be scored silently wrong).
    public func check(_ detections: [CocoDetection], file: String) throws {
        let imageIds = Set(images.map(\.id)), catIds = Set(categories.map(\.id))
        for (i, d) in detections.enumerated() {
            func fail(_ field: String, _ what: String) -> CocoFormatError {
                CocoFormatError(description: "\(file): [\(i)].\(field): \(what)")
            }
            guard imageIds.contains(d.imageId) else { throw fail("image_id", "\(d.imageId) is not an image of the ground truth") }
            guard catIds.contains(d.categoryId) else { throw fail("category_id", "\(d.categoryId) is not a category of the ground truth") }
            guard d.bbox[2] >= 0, d.bbox[3] >= 0 else {
                throw fail("bbox", "width and height must be >= 0, got \(d.bbox[2]) x \(d.bbox[3])")
            }
        }
    }
}

extension CocoDetection {
    public static func load(path: String) throws -> [CocoDetection] {
        try parse(readFile(path), file: path)
    }

    public static func parse(_ data: Data, file: String = "<detections>") throws -> [CocoDetection] {
        let r = Reader(file: file)
        var out: [CocoDetection] = []
        for (i, v) in try r.array(r.parse(data), "top level").enumerated() {
            let p = "[\(i)]"
            let o = try r.object(v, p)
            out.append(CocoDetection(imageId: try r.int(o["image_id"], "\(p).image_id"),
                                     categoryId: try r.int(o["category_id"], "\(p).category_id"),
                                     bbox: try r.bbox(o["bbox"], "\(p).bbox"),
                                     score: try r.number(o["score"], "\(p).score")))
        }
        return out
    }
}

// MARK: writing

/// Shortest decimal that reads back to the same Double; integers without ".0".
func jsonNumber(_ x: Double) -> String {
    if x == x.rounded() && abs(x) < 1e15 { return String(Int(x)) }
    return "\(x)"
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

private func jsonBox(_ b: [Double]) -> String { "[" + b.map(jsonNumber).joined(separator: ", ") + "]" }

private func writeAtomically(_ text: String, to path: String) throws {
    do { try text.write(toFile: path, atomically: true, encoding: .utf8) }
    catch { throw CocoFormatError(description: "\(path): cannot write (\(error.localizedDescription))") }
}

extension CocoGroundTruth {
    public func jsonText() -> String {
        let imgs = images.map {
            "{\"id\": \($0.id), \"width\": \($0.width), \"height\": \($0.height), \"file_name\": \(jsonString($0.fileName))}"
        }
        let anns = annotations.map { a -> String in
            let area = a.area ?? a.bbox[2] * a.bbox[3]
            return "{\"id\": \(a.id), \"image_id\": \(a.imageId), \"category_id\": \(a.categoryId), " +
                "\"bbox\": \(jsonBox(a.bbox)), \"area\": \(jsonNumber(area)), \"iscrowd\": \(a.isCrowd ? 1 : 0)}"
        }
        let cats = categories.map { "{\"id\": \($0.id), \"name\": \(jsonString($0.name))}" }
        return "{\n\"images\": [\n" + imgs.joined(separator: ",\n") + "\n],\n\"annotations\": [\n" +
            anns.joined(separator: ",\n") + "\n],\n\"categories\": [\n" + cats.joined(separator: ",\n") + "\n]\n}\n"
    }

    public func write(to path: String) throws { try writeAtomically(jsonText(), to: path) }
}

extension Array where Element == CocoDetection {
    public func cocoJSONText() -> String {
        "[\n" + map {
            "{\"image_id\": \($0.imageId), \"category_id\": \($0.categoryId), \"bbox\": \(jsonBox($0.bbox)), \"score\": \(jsonNumber($0.score))}"
        }.joined(separator: ",\n") + "\n]\n"
    }

    public func writeCoco(to path: String) throws { try writeAtomically(cocoJSONText(), to: path) }
}
