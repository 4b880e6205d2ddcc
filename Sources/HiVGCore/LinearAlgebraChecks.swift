import Foundation

/// What LinearAlgebra.swift (the one file that calls OpenBLAS) checks around each LAPACK call: inputs
/// finite, dimensions and workspace sizes that fit LAPACK's 32-bit integers, `info`, and finite
/// results. Kept apart so the wrapper stays about the calls; nothing here touches C types.
extension LinearAlgebra {
    /// Why a decomposition was refused or failed. Callers that know the tensor wrap it (HiVGSurgery's
    /// `SurgeryError.decomposition`), so users see which tensor and layer it was.
    public enum Failure: Error, CustomStringConvertible, Sendable, Equatable {
        /// LAPACK returned `info` ≠ 0.
        case lapack(routine: String, info: Int)
        /// The input holds a NaN or infinity at this row-major index (LAPACK was not called: it would
        /// loop, fail with an obscure argument error, or return garbage).
        case nonFiniteInput(routine: String, index: Int)
        /// LAPACK reported success but a result is NaN or infinite.
        case nonFiniteResult(routine: String)
        /// A dimension or workspace size beyond LAPACK's 32-bit integers.
        case tooLarge(routine: String, value: String)

        public var description: String {
            switch self {
            case let .lapack(r, info): return "LAPACK \(r) failed (info \(info): \(Self.meaning(r, info)))"
            case let .nonFiniteInput(r, i): return "the input of LAPACK \(r) holds a non-finite value (NaN or infinity) at index \(i)"
            case let .nonFiniteResult(r): return "LAPACK \(r) returned non-finite values"
            case let .tooLarge(r, v): return "\(v) is too large for LAPACK \(r) (32-bit integers)"
            }
        }

        /// LAPACK's meaning of `info`: < 0 is an argument it rejected (with a NaN it rejects the
        /// matrix), > 0 is a numerical failure whose meaning depends on the routine.
        static func meaning(_ routine: String, _ info: Int) -> String {
            if info < 0 { return "argument \(-info) rejected" }
            if info == 0 { return "incomplete result" }
            if routine.hasPrefix("dgesdd") { return "the bidiagonal SVD did not converge" }
            if routine.hasPrefix("dsyevr") { return "the eigenvalue iteration did not converge" }
            return "numerical failure"
        }
    }

    /// Test seam: makes the next `count` calls of a routine report `info` as if LAPACK had (reached
    /// through `@testable import HiVGCore`; production code never sets it). Real failures need
    /// matrices that are hard to construct portably across LAPACK builds.
    final class FailureInjection: @unchecked Sendable {
        private let lock = NSLock()
        private var routine = ""
        private var info: Int32 = 0
        private var remaining = 0

        /// The next `count` calls of `routine` report `info`.
        func inject(_ routine: String, info: Int32, count: Int = 1) {
            lock.withLock { self.routine = routine; self.info = info; remaining = count }
        }

        /// The `info` a call reports: the real one, or the injected one while injections remain.
        func apply(_ routine: String, _ real: Int32) -> Int32 {
            lock.withLock {
                guard remaining > 0, routine == self.routine else { return real }
                remaining -= 1
                return info
            }
        }
    }

    static let injection = FailureInjection()

    /// Refuses a non-finite input before LAPACK sees it.
    static func requireFinite(_ a: [Double], _ routine: String) throws {
        if let i = a.firstIndex(where: { !$0.isFinite }) { throw Failure.nonFiniteInput(routine: routine, index: i) }
    }

    /// Refuses a non-finite result of a call that reported success.
    static func requireFiniteResult(_ a: [Double], _ routine: String) throws {
        if !a.allSatisfy(\.isFinite) { throw Failure.nonFiniteResult(routine: routine) }
    }

    /// A dimension or product of dimensions as LAPACK's Int32.
    static func lapackInt(_ v: Int, _ what: String, _ routine: String) throws -> Int32 {
        guard let i = Int32(exactly: v) else { throw Failure.tooLarge(routine: routine, value: "\(what) \(v)") }
        return i
    }

    /// The workspace size a query returned (a Double), as LAPACK's Int32, at least 1.
    static func workspaceSize(_ q: Double, _ routine: String) throws -> Int32 {
        guard q.isFinite, q < Double(Int32.max) else { throw Failure.tooLarge(routine: routine, value: "workspace \(q)") }
        return max(Int32(q.rounded(.up)), 1)
    }

    /// Checks a call's `info` (after any injected failure).
    static func check(_ info: Int32, _ routine: String) throws {
        let i = injection.apply(routine, info)
        if i != 0 { throw Failure.lapack(routine: routine, info: Int(i)) }
    }
}
