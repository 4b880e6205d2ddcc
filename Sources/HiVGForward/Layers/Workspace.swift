import Foundation

/// Activations of `batch` samples × `seq` positions × `width` features, row-major, owning their buffer:
/// the residual stream of a tower or of the VL transformer. Rows of different samples only meet inside
/// attention (which reads `batch` and `seq`); every other layer is row-wise.
struct Activations {
    let batch: Int
    let seq: Int
    let width: Int
    var values: [Float]
    var rows: Int { batch * seq }

    init(batch: Int, seq: Int, width: Int, values: [Float]) {
        precondition(values.count == batch * seq * width, "activations: \(values.count) values for (\(batch), \(seq), \(width))")
        self.batch = batch
        self.seq = seq
        self.width = width
        self.values = values
    }

    /// x as a pointer for the layers that update it in place.
    mutating func withPointer<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        try values.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }
}

/// The scratch buffers of one forward run, reused by every layer: each slot grows to the largest
/// size asked of it and is then handed out again, so the steady state (layer after layer) allocates
/// nothing. A slot's contents are valid until the next request for the same slot; the layers pick
/// distinct slots for values that are live at the same time.
final class Workspace {
    enum Slot: Int, CaseIterable {
        /// A LayerNorm's output (or a projection that replaces it once it is dead).
        case normed
        /// A projection of the normed rows (q;k;v, q, q;k).
        case projected
        /// A second projection live beside the first (k;v of the bridge, v of the VL transformer).
        case projected2
        /// Attention outputs, before out_proj.
        case attended
        /// An MLP's hidden rows.
        case hidden
        /// A branch's output added into the residual stream afterwards (the bridge's term).
        case branch
        /// The bridge's gate input, the VL transformer's h + pos.
        case gateInput
        /// The bridge's key/value source.
        case source
        /// The source in the original cross-batch order (`--batch-quirk`).
        case reshaped
        /// Attention scores, one tq×tk block per worker.
        case scores
    }

    private var buffers: [UnsafeMutablePointer<Float>?] = Array(repeating: nil, count: Slot.allCases.count)
    private var capacities = [Int](repeating: 0, count: Slot.allCases.count)
    /// How many buffers were (re)allocated: constant once every slot has seen its largest size.
    private(set) var allocations = 0

    /// `count` floats of `slot` (uninitialised).
    func callAsFunction(_ slot: Slot, _ count: Int) -> UnsafeMutablePointer<Float> {
        let i = slot.rawValue
        if capacities[i] < count || buffers[i] == nil {
            buffers[i]?.deallocate()
            buffers[i] = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
            capacities[i] = max(1, count)
            allocations += 1
        }
        return buffers[i]!
    }

    deinit { for b in buffers { b?.deallocate() } }
}
