/// One saved storage: the flat buffer that one or more tensors view.
public final class Storage: Sendable {
    /// The key the file gives it (`data/<key>` in a torch zip), or the tensor name for safetensors.
    public let key: String
    /// Element type the storage was saved with (U8 for torch's UntypedStorage).
    public let dtype: DType
    public let source: any ByteSource
    /// True when the file says its data is big-endian; bytes are swapped on access.
    public let bigEndian: Bool

    public init(key: String, dtype: DType, source: any ByteSource, bigEndian: Bool = false) {
        self.key = key
        self.dtype = dtype
        self.source = source
        self.bigEndian = bigEndian
    }

    public var byteCount: Int { source.byteCount }
}
