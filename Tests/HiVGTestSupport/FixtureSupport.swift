import Foundation
import XCTest
import HiVGFormats
import HiVGCore

/// Locates `Fixtures/` from this file and loads its manifests.
public enum Fixtures {
    public static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    public static func json(_ relative: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent(relative))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

/// Runs `body`, expecting a FormatError of `kind`; returns it.
@discardableResult
public func assertFormatError(_ kind: FormatError.Kind, file: StaticString = #filePath, line: UInt = #line,
                       _ body: () throws -> Void) -> FormatError? {
    do {
        try body()
        XCTFail("expected a \(kind.rawValue) error, got success", file: file, line: line)
    } catch let e as FormatError {
        XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
        return e
    } catch {
        XCTFail("expected FormatError \(kind.rawValue), got \(error)", file: file, line: line)
    }
    return nil
}
