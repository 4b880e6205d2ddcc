import Foundation
import HiVGCore
import HiVGFormats

/// A JSON config (`--config`, `config.json`, `adapter_config.json`) read with its types kept, so a key
/// of the wrong type (heads as `4.0001` or `"6"`, alpha as a string) is refused naming the file, the
/// key and the value instead of being dropped for a default. The text is read strictly
/// (`StrictJSONDecoder`): a key given twice is refused (Python's json, which transformers and PEFT use,
/// keeps the last; Foundation's decoder the first). Absent keys read as nil; `null` reads as nil where
/// absence has a meaning (flags, lists, nested objects) and is refused where a number or a string is
/// required (PEFT fails on `"lora_alpha": null`; a default would compute another model).
public struct ConfigJSON: Sendable {
    /// One JSON value with its type.
    public indirect enum Value: Decodable, Sendable, CustomStringConvertible {
        case null, bool(Bool), int(Int), double(Double), string(String), array([Value]), object([String: Value])
        /// A number beyond its type, as written: an integer literal beyond `Int` (`9223372036854775808`),
        /// or a float literal beyond `Double` (`1e400`).
        case number(String)

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            // Bool before numbers (JSON `true` is no count); Int before Double (4.0001 is no count).
            if c.decodeNil() { self = .null }
            else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let n = try? c.decode(JSONNumberLiteral.self) {
                // The literal decides: `2.0` and `1e2` are floats (as Python reads them), never counts.
                if !n.text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { self = Int(n.text).map(Value.int) ?? .number(n.text) }
                else if let d = Double(n.text), d.isFinite { self = .double(d) }
                else { self = .number(n.text) }
            }
            else if let i = try? c.decode(Int.self) { self = .int(i) }
            else if let d = try? c.decode(Double.self) { self = .double(d) }
            else if let s = try? c.decode(String.self) { self = .string(s) }
            else if let a = try? c.decode([Value].self) { self = .array(a) }
            else { self = .object(try c.decode([String: Value].self)) }
        }

        /// The value as JSON-like text, cut to 80 characters (for messages).
        public var description: String {
            let s: String
            switch self {
            case .null: s = "null"
            case let .bool(b): s = "\(b)"
            case let .int(i): s = "\(i)"
            case let .double(d): s = "\(d)"
            case let .number(t): s = String(t.prefix(100))
            case let .string(t): s = "\"\(String(t.unicodeScalars.prefix(100)))\""
            case let .array(a): s = "[" + a.map(\.description).joined(separator: ", ") + "]"
            case let .object(o): s = "{" + o.keys.sorted().map { "\"\($0)\": \(o[$0]!)" }.joined(separator: ", ") + "}"
            }
            let escaped = s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
            return escaped.count > 80 ? String(escaped.prefix(77)) + "..." : escaped
        }
    }

    /// The file named in errors.
    public let file: String
    /// Dotted path of this object inside the document ("" at the root).
    public let path: String
    /// The object's members by key.
    public let members: [String: Value]

    /// Parses `data`, which must hold one JSON object with no key given twice.
    public init(data: Data, file: String) throws {
        let v: Value
        do { v = try StrictJSONDecoder().decode(Value.self, from: data) } catch let e as StrictJSONError {
            throw ModelError.inconsistent(file: file, detail: e.kind == .syntax ? "not valid JSON (\(e))" : "\(e)")
        }
        guard case let .object(o) = v else { throw ModelError.inconsistent(file: file, detail: "not a JSON object (found \(v))") }
        self.init(file: file, path: "", members: o)
    }

    /// Reads and parses a regular file (a folder or device in its place is refused, naming it).
    public init(contentsOf file: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDir) else {
            throw ModelError.inconsistent(file: file, detail: "no such file")
        }
        let type = (try? FileManager.default.attributesOfItem(atPath: file)[.type] as? FileAttributeType) ?? nil
        guard !isDir.boolValue, type == nil || type == .typeRegular || type == .typeSymbolicLink else {
            throw ModelError.inconsistent(file: file, detail: isDir.boolValue ? "is a folder, not a JSON file" : "is not a regular file")
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
            throw ModelError.inconsistent(file: file, detail: "cannot be read (\(SystemErrorText.phrase(of: error)))")
        }
        try self.init(data: data, file: file)
    }

    init(file: String, path: String, members: [String: Value]) {
        self.file = file; self.path = path; self.members = members
    }

    /// The error for `key` holding `value`.
    public func refused(_ key: String, _ value: Value, _ detail: String) -> ModelError {
        .inconsistent(file: file, detail: "`\(qualified(key))` = \(value): \(detail)")
    }

    private func qualified(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// A nested object, nil when absent or null.
    public func object(_ key: String) throws -> ConfigJSON? {
        switch members[key] {
        case nil, .null?: return nil
        case let .object(o)?: return ConfigJSON(file: file, path: qualified(key), members: o)
        case let v?: throw refused(key, v, "must be an object")
        }
    }

    /// An integer (a JSON number written with no fraction or exponent that fits an Int; not a bool, a
    /// string or null).
    public func int(_ key: String) throws -> Int? {
        switch members[key] {
        case nil: return nil
        case let .int(i)?: return i
        case let .number(t)? where !t.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }):
            throw refused(key, .number(t), "is out of range (an integer from \(Int.min) to \(Int.max))")
        case let v?: throw refused(key, v, "must be an integer")
        }
    }

    /// A finite number (integer or not; not null).
    public func double(_ key: String) throws -> Double? {
        switch members[key] {
        case nil: return nil
        case let .int(i)?: return Double(i)
        case let .double(d)? where d.isFinite: return d
        case let .number(t)?: throw refused(key, .number(t), "is out of range for a 64-bit float")
        case let v?: throw refused(key, v, "must be a finite number")
        }
    }

    /// A boolean (`true`/`false`, not 0/1 or a string).
    public func bool(_ key: String) throws -> Bool? {
        switch members[key] {
        case nil, .null?: return nil
        case let .bool(b)?: return b
        case let v?: throw refused(key, v, "must be true or false")
        }
    }

    /// An array of strings.
    public func strings(_ key: String) throws -> [String]? {
        switch members[key] {
        case nil, .null?: return nil
        case let .array(a)?:
            return try a.map { v -> String in
                guard case let .string(s) = v else { throw refused(key, .array(a), "must be an array of strings") }
                return s
            }
        case let v?: throw refused(key, v, "must be an array of strings")
        }
    }

    /// A string (not null).
    public func string(_ key: String) throws -> String? {
        switch members[key] {
        case nil: return nil
        case let .string(s)?: return s
        case let v?: throw refused(key, v, "must be a string")
        }
    }
}

/// What a PEFT `adapter_config.json` says about the LoRA scaling: PEFT scales B·A by `lora_alpha / r`,
/// or by `lora_alpha / √r` with `use_rslora` (`LoraLayer.update_layer`). Every key we read is
/// type-checked; settings that change the computation in ways we do not implement are refused.
public struct AdapterConfig: Sendable {
    /// The `adapter_config.json` read (named in errors).
    public var file: String
    /// `lora_alpha`, when given.
    public var alpha: Double?
    /// `r`, when given: must equal the factors' rank.
    public var rank: Int?
    /// `use_rslora`: scale by alpha/√r instead of alpha/r.
    public var rslora: Bool
    /// `modules_to_save`: modules the adapter holds whole (PEFT matches each as a suffix of a module path).
    public var modulesToSave: [String] = []

    /// Settings given directly (a caller that has no file).
    public init(file: String, alpha: Double?, rank: Int?, rslora: Bool) {
        self.file = file; self.alpha = alpha; self.rank = rank; self.rslora = rslora
    }

    /// Reads `adapter_config.json` at `path`.
    public init(contentsOf path: String) throws {
        try self.init(try ConfigJSON(contentsOf: path))
    }

    /// The settings of a parsed `adapter_config.json`.
    public init(_ j: ConfigJSON) throws {
        file = j.file
        alpha = try j.double("lora_alpha")
        rank = try j.int("r")
        rslora = try j.bool("use_rslora") ?? false
        modulesToSave = try j.strings("modules_to_save") ?? []
        if let t = try j.string("peft_type"), t != "LORA" { throw j.refused("peft_type", .string(t), "only LORA adapters are supported") }
        if let d = try j.bool("use_dora"), d { throw j.refused("use_dora", .bool(d), "DoRA rescales the merged weight; not supported") }
        for key in ["rank_pattern", "alpha_pattern"] {
            if let p = try j.object(key), !p.members.isEmpty {
                throw j.refused(key, .object(p.members), "per-module ranks or alphas are not supported")
            }
        }
        if let r = rank, r <= 0 { throw j.refused("r", .int(r), "must be positive") }
        if let a = alpha, a == 0 { throw j.refused("lora_alpha", .double(a), "must not be zero") }
    }
}
