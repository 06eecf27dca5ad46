import CZlib
import Foundation

/// Minimal PNG writer: 8-bit RGB, one IDAT compressed with zlib's compress2, CRCs with crc32.
enum PNG {
    static func encode(rgb: [UInt8], width: Int, height: Int) -> [UInt8] {
        var raw = [UInt8]()
        raw.reserveCapacity((width * 3 + 1) * height)
        for y in 0..<height {
            raw.append(0) // filter type None
            raw += rgb[(y * width * 3)..<((y + 1) * width * 3)]
        }
        var destLen = compressBound(uLong(raw.count))
        var packed = [UInt8](repeating: 0, count: Int(destLen))
        _ = compress2(&packed, &destLen, raw, uLong(raw.count), 6)
        packed.removeLast(packed.count - Int(destLen))

        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            let crc = UInt32(crc32(0, body, uInt(body.count)))
            return be32(UInt32(data.count)) + body + be32(crc)
        }
        let ihdr = be32(UInt32(width)) + be32(UInt32(height)) + [8, 2, 0, 0, 0] // depth 8, RGB, deflate, no filter/interlace
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", packed) + chunk("IEND", [])
    }

    static func write(rgb: [UInt8], width: Int, height: Int, to path: String) throws {
        do {
            try Data(encode(rgb: rgb, width: width, height: height)).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw DataError(file: path, field: "", "cannot write PNG: \(error.localizedDescription)")
        }
    }
}
