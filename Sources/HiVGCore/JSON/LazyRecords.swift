/// An array written one element at a time, made on demand from its index.
public struct LazyRecords<Element: Encodable & Sendable>: Encodable, Sendable {
    public let count: Int
    public let element: @Sendable (Int) -> Element

    public init(count: Int, element: @escaping @Sendable (Int) -> Element) {
        self.count = count
        self.element = element
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.unkeyedContainer()
        for i in 0 ..< count { try c.encode(element(i)) }
    }
}
