import Foundation
import XCTest
import HiVGTestSupport
@testable import HiVGCore
@testable import HiVGFormats
@testable import HiVGModel

/// Issue 20: a config read from a user's file (`--config`, `adapter_config.json`) or carried by a
/// checkpoint (`hivgkit.config`) refuses a repeated key, a null where a number is required, and
/// names the file, the key and the value of anything it refuses.
final class ConfigJSONTests: XCTestCase {
    private func refusal(_ text: String, _ read: (ConfigJSON) throws -> Any? = { $0 }) -> String {
        do { _ = try read(try ConfigJSON(data: Data(text.utf8), file: "c.json")); return "accepted" } catch { return "\(error)" }
    }

    func testARepeatedKeyIsRefusedNamingTheFileAndTheKey() {
        // Python's json (transformers, PEFT) would use 4 here and Foundation 2: neither is guessed.
        XCTAssertEqual(refusal(#"{"text_config": {"num_attention_heads": 2, "num_attention_heads": 4}}"#),
                       "c.json: offset 43: key `text_config.num_attention_heads` appears twice (Python's json would keep the last value, Foundation the first)")
        XCTAssertTrue(refusal(#"{"lora_alpha": 4, "lora_alpha": 400, "r": 2}"#).hasPrefix("c.json: offset 18: key `lora_alpha` appears twice"))
    }

    func testNullWhereANumberIsRequiredIsRefused() throws {
        XCTAssertEqual(refusal(#"{"lora_alpha": null}"#) { try $0.double("lora_alpha") }, "c.json: `lora_alpha` = null: must be a finite number")
        XCTAssertEqual(refusal(#"{"a": {"h": null}}"#) { try $0.object("a")?.int("h") }, "c.json: `a.h` = null: must be an integer")
        XCTAssertEqual(refusal(#"{"hidden_act": null}"#) { try $0.string("hidden_act") }, "c.json: `hidden_act` = null: must be a string")
        // PEFT writes null for unset lists and flags: absent, as before.
        let j = try ConfigJSON(data: Data(#"{"modules_to_save": null, "use_rslora": null, "rank_pattern": null}"#.utf8), file: "c.json")
        XCTAssertNil(try j.strings("modules_to_save"))
        XCTAssertNil(try j.bool("use_rslora"))
        XCTAssertNil(try j.object("rank_pattern"))
        // The adapter config: PEFT fails on a null alpha; a default of 16 would scale every delta wrongly.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("configjson-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("adapter_config.json").path
        try Data(#"{"lora_alpha": null, "peft_type": "LORA", "r": 2}"#.utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try AdapterConfig(contentsOf: file)) { XCTAssertEqual("\($0)", "\(file): `lora_alpha` = null: must be a finite number") }
    }

    func testNumbersBeyondTheirTypeAreShownAsWritten() {
        XCTAssertEqual(refusal(#"{"t": {"h": 1e400}}"#) { try $0.object("t")?.int("h") }, "c.json: `t.h` = 1e400: must be an integer")
        XCTAssertEqual(refusal(#"{"a": 1e400}"#) { try $0.double("a") }, "c.json: `a` = 1e400: is out of range for a 64-bit float")
        XCTAssertEqual(refusal(#"{"h": 9223372036854775808}"#) { try $0.int("h") },
                       "c.json: `h` = 9223372036854775808: is out of range (an integer from -9223372036854775808 to 9223372036854775807)")
        XCTAssertEqual(refusal(#"{"h": 2.0}"#) { try $0.int("h") }, "c.json: `h` = 2.0: must be an integer")
    }

    /// The carried config: a value that is not its type names the key and the value, not "not valid JSON".
    func testTheCarriedConfigNamesTheKeyAndTheValue() throws {
        func load(_ name: String) -> String {
            do { _ = try ModelLoader.load(Fixtures.path("bad/hostile_model/" + name)); return "loaded" } catch { return "\(error)" }
        }
        XCTAssertTrue(load("vl_heads_fraction.safetensors").hasSuffix(
            "vl_heads_fraction.safetensors: the carried config (`hivgkit.config`): `head.heads` = 2.0000001: must be an integer"))
        XCTAssertTrue(load("vl_heads_huge.safetensors").hasSuffix("`head.heads` = 1e+300: must be an integer"))
        XCTAssertTrue(load("carried_config_duplicate.safetensors").contains(": key `mixup` appears twice"))
        // The GGUF KV copy of the carried config is read the same way.
        let kv = [GGUFKeyValue(ModelWriter.configKey, .string(#"{"mixup": true, "mixup": false}"#))]
        XCTAssertThrowsError(try GGUFNames.config(fromKV: kv, file: "m.gguf")) { XCTAssertTrue("\($0)".contains("key `mixup` appears twice"), "\($0)") }
    }
}
