import CHiVGTokenizerData
import Foundation

/// The data files compiled into the binary by CHiVGTokenizerData (the only Swift file importing it),
/// with their pinned SHA-256. Sources and licences: Sources/CHiVGTokenizerData/data/NOTICE.md.
public enum TokenizerData {
    /// SHA-256 of bpe_simple_vocab_16e6.txt.gz as OpenAI CLIP, open_clip and HiVG ship it.
    public static let vocabularySHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
    /// SHA-256 of html5_entities.json (Fixtures/pipeline/generate_html5_entities.py, CPython 3.11).
    public static let entitiesSHA256 = "eaffa4994ec221989cefc02e9b3e89ae22efda278b9d753a83bf499098d1e9f9"

    /// The embedded gzip file's bytes (static storage, never freed).
    public static var vocabularyGzip: UnsafeRawBufferPointer {
        var n = 0
        let p = hivg_clip_bpe_gz(&n)
        return UnsafeRawBufferPointer(start: p, count: n)
    }

    /// The embedded entity table's bytes.
    public static var entitiesJSON: UnsafeRawBufferPointer {
        var n = 0
        let p = hivg_html5_entities_json(&n)
        return UnsafeRawBufferPointer(start: p, count: n)
    }

    /// Parses an entity table: a JSON object of names (Python's html5 keys, without '&') to text.
    static func parseEntities(_ bytes: UnsafeRawBufferPointer, source: String) throws -> [String: String] {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(bytes)) } catch {
            throw TokenizerError.badEntityTable(source: source, detail: "not JSON: \(error)")
        }
        guard let table = object as? [String: String], !table.isEmpty else {
            throw TokenizerError.badEntityTable(source: source, detail: "expected a non-empty object of strings")
        }
        return table
    }
}
