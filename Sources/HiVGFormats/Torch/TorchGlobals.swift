import HiVGCore

/// The torch names a weights pickle may use, as data: storage classes and dtypes.
enum TorchGlobals {
    /// `torch.<X>Storage` → element type (UntypedStorage holds bytes).
    static let storageTypes: [String: DType] = [
        "DoubleStorage": .f64, "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool, "ComplexFloatStorage": .c64, "ComplexDoubleStorage": .c128,
        "UntypedStorage": .u8,
        "Float8_e4m3fnStorage": .f8e4m3, "Float8_e5m2Storage": .f8e5m2,
        "UInt16Storage": .u16, "UInt32Storage": .u32, "UInt64Storage": .u64,
    ]

    /// `torch.<dtype>` → element type.
    static let dtypes: [String: DType] = [
        "float64": .f64, "double": .f64, "float32": .f32, "float": .f32, "float16": .f16, "half": .f16,
        "bfloat16": .bf16, "int64": .i64, "long": .i64, "int32": .i32, "int": .i32, "int16": .i16, "short": .i16,
        "int8": .i8, "uint8": .u8, "bool": .bool, "complex64": .c64, "cfloat": .c64, "complex128": .c128,
        "cdouble": .c128, "float8_e4m3fn": .f8e4m3, "float8_e5m2": .f8e5m2, "float8_e8m0fnu": .f8e8m0,
        "uint16": .u16, "uint32": .u32, "uint64": .u64,
    ]

    /// What an interpreted call does.
    enum Call {
        case rebuildTensor, rebuildTensorV3, rebuildParameter, rebuildFromType, orderedDict, size, device, codecsEncode
        case set, bytearray, complex
        /// TorchScript archives tag typed containers with identity functions.
        case identity
    }

    /// Calls that only rebuild data; everything else is refused unless the user allows it as inert.
    static let interpreted: [String: Call] = [
        "torch._utils._rebuild_tensor": .rebuildTensor, "torch._utils._rebuild_tensor_v2": .rebuildTensor,
        "torch._utils._rebuild_tensor_v3": .rebuildTensorV3,
        "torch._utils._rebuild_parameter": .rebuildParameter, "torch._utils._rebuild_parameter_with_state": .rebuildParameter,
        "torch._tensor._rebuild_from_type_v2": .rebuildFromType, "collections.OrderedDict": .orderedDict, "torch.Size": .size,
        "torch.device": .device, "_codecs.encode": .codecsEncode, "builtins.set": .set, "builtins.frozenset": .set,
        "builtins.bytearray": .bytearray, "builtins.complex": .complex,
        "torch.jit._pickle.restore_type_tag": .identity, "torch.jit._pickle.build_intlist": .identity,
        "torch.jit._pickle.build_doublelist": .identity, "torch.jit._pickle.build_boollist": .identity,
        "torch.jit._pickle.build_tensorlist": .identity,
    ]

    /// Never accepted, even with --allow-global: modules (and their submodules) and single names.
    static let alwaysRefused: Set<String> = ["os", "posix", "nt", "sys", "subprocess", "builtins.eval", "builtins.exec",
                                             "builtins.compile", "builtins.__import__", "builtins.getattr", "builtins.open"]

    static func isNeverAllowed(module: String, full: String) -> Bool {
        if alwaysRefused.contains(full) { return true }
        let root = module.split(separator: ".").first.map(String.init) ?? module
        return alwaysRefused.contains(module) || alwaysRefused.contains(root)
    }

    /// Python 2 module names in protocol 0–2 pickles → Python 3 (as `_compat_pickle` maps them).
    static let python2Modules: [String: String] = [
        "__builtin__": "builtins", "copy_reg": "copyreg", "cPickle": "pickle", "_codecs": "_codecs",
    ]
}
