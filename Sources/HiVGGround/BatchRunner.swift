import Foundation
import HiVGPipeline

/// One line's outcome in a batch run.
public struct BatchOutcome: Sendable {
    /// The query line (index, image, text, box).
    public let line: QueryLine
    /// The result, or the message of what failed (decode, tokenize, forward or the line itself).
    public let result: Result<GroundingResult, GroundingFailure>
    /// Wall seconds of decode + letterbox + tokenize (on the producer thread, overlapped with forward passes).
    public let prepareSeconds: Double
    /// CPU seconds the producer thread spent on each step of this line (wall time on a busy machine also
    /// counts the waits for a core; these do not).
    public let prepareCPU: PrepareTimes
    /// Wall seconds of the forward pass (0 when the line failed before it).
    public let forwardSeconds: Double
}

/// A failed line's message (a typed wrapper so `Result` can carry it).
public struct GroundingFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, naming the file.
    public let message: String
    /// Wraps a message.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs many queries through one loaded model: a producer thread decodes, letterboxes and tokenizes
/// the next lines while the caller's thread runs the forward pass, with at most `lookahead` prepared
/// samples waiting (bounded memory: each is 3·S² floats). Results come back in input order.
public struct BatchRunner {
    /// The loaded model.
    public let grounder: Grounder
    /// How photos are decoded.
    public let decode: DecodeOptions
    /// Prepared samples allowed to wait for the forward pass.
    public let lookahead: Int

    /// A runner over a loaded model.
    public init(grounder: Grounder, decode: DecodeOptions = DecodeOptions(), lookahead: Int = 4) {
        precondition(lookahead >= 1, "BatchRunner: lookahead must be at least 1")
        self.grounder = grounder
        self.decode = decode
        self.lookahead = lookahead
    }

    /// Grounds every line in order, calling `onOutcome` for each as it completes (on the caller's thread).
    /// A bad line or image is an outcome with a failure; the run goes on.
    public func run(_ lines: [QueryLine], onOutcome: (BatchOutcome) throws -> Void) rethrows {
        let queue = BoundedQueue<(QueryLine, Result<PreparedQuery, GroundingFailure>, Double, PrepareTimes)>(capacity: lookahead)
        let grounder = self.grounder, decode = self.decode
        let producer = Thread {
            for line in lines {
                if queue.isCancelled { break }
                let t0 = DispatchTime.now().uptimeNanoseconds
                var cpu = PrepareTimes()
                let prepared = Self.prepare(line, grounder: grounder, decode: decode, cpu: &cpu)
                queue.put((line, prepared, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9, cpu))
            }
        }
        producer.stackSize = 1 << 22
        producer.start()
        defer { queue.cancel() }  // an error thrown by onOutcome stops the producer too
        for _ in lines {
            guard let (line, prepared, prepareSeconds, prepareCPU) = queue.take() else { break }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let result: Result<GroundingResult, GroundingFailure>
            switch prepared {
            case let .failure(f): result = .failure(f)
            case let .success(q):
                do { result = .success(try grounder.ground(q)) } catch { result = .failure(GroundingFailure(String(describing: error))) }
            }
            let forwardSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            try onOutcome(BatchOutcome(line: line, result: result, prepareSeconds: prepareSeconds, prepareCPU: prepareCPU,
                                       forwardSeconds: forwardSeconds))
        }
    }

    /// Decode + letterbox + tokenize one line (on the producer thread), each step's CPU time into `cpu`.
    static func prepare(_ line: QueryLine, grounder: Grounder, decode: DecodeOptions, cpu: inout PrepareTimes) -> Result<PreparedQuery, GroundingFailure> {
        if let e = line.error { return .failure(GroundingFailure(e)) }
        guard let path = line.resolvedImage, let text = line.text else { return .failure(GroundingFailure("line \(line.index + 1): no query")) }
        do {
            var t = threadCPUSeconds()
            func lap(_ step: inout Double) {
                let u = threadCPUSeconds()
                step += u - t
                t = u
            }
            let photo = try ImageDecoder.decode(path: path, options: decode)
            lap(&cpu.decode)
            let boxed = try grounder.letterbox(photo, file: path)
            lap(&cpu.letterbox)
            let ids = try grounder.tokenIds(text)
            lap(&cpu.tokenize)
            return .success(PreparedQuery(image: boxed, tokenIds: ids))
        } catch {
            return .failure(GroundingFailure(String(describing: error)))
        }
    }
}

/// CPU seconds of the preparation steps (decode, letterbox, tokenize), one line's or summed over a run.
public struct PrepareTimes: Sendable, Equatable {
    /// Reading and decoding the photo file to RGB.
    public var decode = 0.0
    /// Resize, normalise and pad into the canvas.
    public var letterbox = 0.0
    /// Lower-casing and CLIP BPE.
    public var tokenize = 0.0
    /// No time yet.
    public init() {}
    /// decode + letterbox + tokenize.
    public var total: Double { decode + letterbox + tokenize }
    /// Step-wise sum.
    public static func + (a: PrepareTimes, b: PrepareTimes) -> PrepareTimes {
        var r = a
        r.decode += b.decode; r.letterbox += b.letterbox; r.tokenize += b.tokenize
        return r
    }
}

/// CPU seconds the calling thread has used (CLOCK_THREAD_CPUTIME_ID).
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// A first-in first-out queue of at most `capacity` items between one producer and one consumer.
final class BoundedQueue<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [T] = []
    private let capacity: Int
    private var cancelled = false

    init(capacity: Int) { self.capacity = capacity }

    /// Whether the consumer has gone away.
    var isCancelled: Bool {
        condition.lock(); defer { condition.unlock() }
        return cancelled
    }

    /// Waits for room, then appends (dropped when cancelled).
    func put(_ item: T) {
        condition.lock(); defer { condition.unlock() }
        while items.count >= capacity && !cancelled { condition.wait() }
        if cancelled { return }
        items.append(item)
        condition.broadcast()
    }

    /// Waits for an item; nil once cancelled and empty.
    func take() -> T? {
        condition.lock(); defer { condition.unlock() }
        while items.isEmpty && !cancelled { condition.wait() }
        if items.isEmpty { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }

    /// Wakes both sides and stops the producer.
    func cancel() {
        condition.lock(); defer { condition.unlock() }
        cancelled = true
        condition.broadcast()
    }
}

/// One line of a batch run's results file: the box or the error, with the line's index.
public struct BatchLineResult: Codable, Sendable, Equatable {
    /// The line's position in the queries file, from 0.
    public let index: Int
    /// The image as the line gave it.
    public let image: String?
    /// The expression.
    public let text: String?
    /// [x1, y1, x2, y2] in the photo's pixels.
    public let box: [Double]?
    /// The model's (cx, cy, w, h) in the canvas.
    public let predBox: [Double]?
    /// Why the line failed.
    public let error: String?

    enum CodingKeys: String, CodingKey {
        case index, image, text, box, error
        case predBox = "pred_box"
    }

    /// The results line of an outcome.
    public init(_ o: BatchOutcome) {
        index = o.line.index; image = o.line.image; text = o.line.text
        switch o.result {
        case let .success(r): box = r.box; predBox = r.predBox; error = nil
        case let .failure(f): box = nil; predBox = nil; error = f.message
        }
    }
}
