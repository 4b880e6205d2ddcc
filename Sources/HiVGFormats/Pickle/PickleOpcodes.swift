/// How an opcode's argument is laid out in the stream.
enum PickleArgument {
    case none
    case u1, u2, i4, u4, u8
    /// Big-endian IEEE double.
    case float8
    /// Text up to the next newline.
    case line
    /// Two newline-terminated lines (module, name).
    case twoLines
    /// Length-prefixed bytes; the prefix is 1, 4 (signed or not) or 8 bytes.
    case bytes1, bytes4, bytes4Signed, bytes8
}

/// The single table of opcodes the machine understands (protocols 0–5): byte, name, argument.
/// The machine decodes arguments from this table and dispatches on the name.
enum PickleOp: UInt8, CaseIterable {
    case mark = 0x28            // (
    case stop = 0x2E            // .
    case pop = 0x30             // 0
    case popMark = 0x31         // 1
    case dup = 0x32             // 2
    case floatText = 0x46       // F
    case intText = 0x49         // I
    case binInt = 0x4A          // J
    case binInt1 = 0x4B         // K
    case longText = 0x4C        // L
    case binInt2 = 0x4D         // M
    case none = 0x4E            // N
    case persID = 0x50          // P
    case binPersID = 0x51       // Q
    case reduce = 0x52          // R
    case stringText = 0x53      // S
    case binString = 0x54       // T
    case shortBinString = 0x55  // U
    case unicodeText = 0x56     // V
    case binUnicode = 0x58      // X
    case append = 0x61          // a
    case build = 0x62           // b
    case global = 0x63          // c
    case dict = 0x64            // d
    case emptyDict = 0x7D       // }
    case appends = 0x65         // e
    case get = 0x67             // g
    case binGet = 0x68          // h
    case inst = 0x69            // i
    case longBinGet = 0x6A      // j
    case list = 0x6C            // l
    case emptyList = 0x5D       // ]
    case obj = 0x6F             // o
    case put = 0x70             // p
    case binPut = 0x71          // q
    case longBinPut = 0x72      // r
    case setItem = 0x73         // s
    case tuple = 0x74           // t
    case emptyTuple = 0x29      // )
    case setItems = 0x75        // u
    case binFloat = 0x47        // G
    case proto = 0x80
    case newObj = 0x81
    case ext1 = 0x82
    case ext2 = 0x83
    case ext4 = 0x84
    case tuple1 = 0x85
    case tuple2 = 0x86
    case tuple3 = 0x87
    case newTrue = 0x88
    case newFalse = 0x89
    case long1 = 0x8A
    case long4 = 0x8B
    case binBytes = 0x42        // B
    case shortBinBytes = 0x43   // C
    case shortBinUnicode = 0x8C
    case binUnicode8 = 0x8D
    case binBytes8 = 0x8E
    case emptySet = 0x8F
    case addItems = 0x90
    case frozenSet = 0x91
    case newObjEx = 0x92
    case stackGlobal = 0x93
    case memoize = 0x94
    case frame = 0x95
    case byteArray8 = 0x96
    case nextBuffer = 0x97
    case readonlyBuffer = 0x98

    var argument: PickleArgument {
        switch self {
        case .floatText, .intText, .longText, .persID, .stringText, .unicodeText, .get, .put: return .line
        case .global, .inst: return .twoLines
        case .binInt: return .i4
        case .binInt1, .binGet, .binPut, .proto, .ext1: return .u1
        case .binInt2, .ext2: return .u2
        case .longBinGet, .longBinPut: return .u4
        case .ext4: return .i4
        case .binFloat: return .float8
        case .binString: return .bytes4Signed
        case .shortBinString, .shortBinBytes, .shortBinUnicode, .long1: return .bytes1
        case .binUnicode, .binBytes: return .bytes4
        case .long4: return .bytes4Signed
        case .binUnicode8, .binBytes8, .byteArray8: return .bytes8
        case .frame: return .u8
        default: return .none
        }
    }
}
