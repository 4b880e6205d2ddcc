
/// The bytes of one quantization scheme: how many values a block holds, how many bytes it takes, and
/// how rows are encoded and decoded. One caseless enum per scheme (`Schemes/`) conforms; the table
/// (`QuantScheme.spec`) says how the toolkit uses each one.
///
/// Rows are laid out back to back; row r starts at `r · rowBytes(cols:)`, which is
/// `cols / blockSize · blockBytes + rowExtraBytes`.
protocol QuantCodec: SendableMetatype {
    /// Values per block along a row (1 for plain and row-scaled encodings).
    static var blockSize: Int { get }
    /// Bytes of one block (`sizeof(block_*)` in ggml).
    static var blockBytes: Int { get }
    /// Bytes a row carries beyond its blocks (int8's f32 row scale; 0 for every ggml type).
    static var rowExtraBytes: Int { get }
    /// The byte layout of one block, as the `.hivgw` manifest records it (`scale_layout`).
    static var layout: String { get }
    /// Encodes `rows` whole rows of `cols` values from `x` into `y`.
    static func encode(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, rows: Int, cols: Int)
    /// Decodes `rows` whole rows of `cols` values from `b` into `y`.
    static func decode(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int)
}

/// A scheme made of fixed-size blocks and nothing else (every ggml block type): encoding and decoding
/// a tensor is a loop over its blocks, rows included, since no block straddles a row.
protocol BlockCodec: QuantCodec {
    /// Encodes one block of `blockSize` values at `x` into `blockBytes` bytes at `y`.
    static func encodeBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>)
    /// Decodes one block at `b` into `blockSize` values at `y`.
    static func decodeBlock(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>)
}

extension BlockCodec {
    static var rowExtraBytes: Int { 0 }

    static func encode(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, rows: Int, cols: Int) {
        for k in 0..<(rows * cols / blockSize) { encodeBlock(x + k * blockSize, y + k * blockBytes) }
    }

    static func decode(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for k in 0..<(rows * cols / blockSize) { decodeBlock(b + k * blockBytes, y + k * blockSize) }
    }
}

/// A 256-value K-quant super-block scheme: its encoder needs ggml's stack arrays (`KQuants.Scratch`),
/// allocated once per call rather than once per block.
protocol KQuantCodec: BlockCodec {
    /// Encodes one super-block using `scratch`.
    static func encodeBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ scratch: KQuants.Scratch)
}

extension KQuantCodec {
    static var blockSize: Int { 256 }

    static func encodeBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>) {
        KQuants.withScratch { encodeBlock(x, y, $0) }
    }

    static func encode(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, rows: Int, cols: Int) {
        KQuants.withScratch { s in
            for k in 0..<(rows * cols / 256) { encodeBlock(x + 256 * k, y + blockBytes * k, s) }
        }
    }
}
