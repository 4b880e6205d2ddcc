// swift-tools-version:6.0
// A SwiftPM package that uses HiVGKit as a library: merges a HiVG checkpoint's Hi LoRA and writes the
// merged weights, with `make test` building and running it on the tiny stage-3 fixture.
import PackageDescription

let package = Package(
    name: "MergeFixture",
    dependencies: [.package(name: "HiVGKit", path: "../..")],
    targets: [
        .executableTarget(name: "MergeFixture", dependencies: [.product(name: "HiVGKit", package: "HiVGKit")]),
    ]
)
