// swift-tools-version:6.0
import PackageDescription

// Layers (each imports only the ones above it):
//   C shims  CZip · CProtobufC · COpenBLAS · CKernels (F16C loops) · CJPEG/CPNG (setjmp shims over libjpeg, libpng)
//   core     HiVGCore      tensors, dtypes, storage, the weight graph, errors
//   formats  HiVGFormats   torch .pth (zip, pickle VM, legacy, TorchScript), safetensors, GGUF, ONNX
//   model    HiVGModel     CLIP / HiVG architecture: key mapping rules, config, LoRA discovery
//   surgery  HiVGSurgery   merge, quantize, diff, rank analysis: pure functions over the graph
//   pipeline HiVGPipeline  photo → letterboxed tensors (libjpeg-turbo, libpng, Pillow's resample), box → photo;
//                          the CLIP tokenizer as HiVG calls it
//   ground   HiVGGround    photo + expression → box (model loaded once), batch runner, shards, eval scoring
//   forward  HiVGForward   the forward pass as layer types bound to the model description; verify
//   export   HiVGExport    the one write pipeline: merge → plan → verify → write (format registry in HiVGModel/Export)
//   release  HiVGRelease   a publishable folder: outputs per model × format × scheme, manifest, README, SHA256SUMS
//   cli      hivgkit       one thin subcommand per verb
// No unsafe flags: the library can be used by another SwiftPM package as a versioned dependency. The
// Makefile builds the C kernels at -O3 (their GEMM tiles compile spill-free there; make test checks the
// object code) and the Swift targets with -O in test builds (tests run merges, SVDs and forward passes,
// 10–50× slower unoptimized). A plain SwiftPM consumer gets SwiftPM's release defaults (docs/benchmarks.md).

let package = Package(
    name: "HiVGKit",
    products: [
        .library(name: "HiVGKit", targets: ["HiVGCore", "HiVGFormats", "HiVGModel", "HiVGSurgery", "HiVGForward", "HiVGExport", "HiVGPipeline", "HiVGGround", "HiVGRelease"]),
        .executable(name: "hivgkit", targets: ["hivgkit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CZip", pkgConfig: "libzip", providers: [.apt(["libzip-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev", "protobuf-c-compiler"])]),
        // Headers only: HiVGCore/LinearAlgebra.swift loads OpenBLAS with dlopen (the Makefile's pkg-config
        // file leaves -lopenblas off the link line).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CKernels"),
        .target(name: "HiVGCore", dependencies: ["CKernels", "COpenBLAS"]),
        .target(name: "CHiVGManifest", dependencies: ["CProtobufC"]),
        // ONNX's published onnx.proto (proto/, pinned) compiled by protoc-c; read and written by HiVGFormats/ONNX.
        .target(name: "CONNXProto", dependencies: ["CProtobufC"]),
        .target(name: "HiVGFormats", dependencies: ["HiVGCore", "CZip", "CHiVGManifest", "CONNXProto"]),
        .target(name: "HiVGModel", dependencies: ["HiVGCore", "HiVGFormats"]),
        .target(name: "HiVGSurgery", dependencies: ["HiVGCore", "HiVGModel"]),
        .target(name: "HiVGForward", dependencies: ["HiVGCore", "HiVGFormats", "HiVGModel", "HiVGSurgery"]),
        // HiVGPipeline: the bundled CLIP vocabulary becomes the tokenizer files of Hugging Face folders.
        .target(name: "HiVGExport", dependencies: ["HiVGCore", "HiVGFormats", "HiVGModel", "HiVGSurgery", "HiVGForward", "HiVGPipeline"]),
        // A release folder (outputs per model × format × scheme, manifest, README, SHA256SUMS) over the write pipeline.
        .target(name: "HiVGRelease", dependencies: ["HiVGCore", "HiVGFormats", "HiVGModel", "HiVGSurgery", "HiVGExport", "HiVGPipeline"]),
        .systemLibrary(name: "CLibJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CLibPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .target(name: "CJPEG", dependencies: ["CLibJPEG"]),
        .target(name: "CPNG", dependencies: ["CLibPNG"]),
        // The tokenizer's data files (CLIP BPE merges, HTML5 entities) compiled into the binary with C23
        // #embed: no resource bundle to locate at run time, the same bytes in debug, tests and the
        // static release binary.
        .target(name: "CHiVGTokenizerData", exclude: ["data"]),
        .target(name: "HiVGPipeline", dependencies: ["HiVGCore", "CJPEG", "CPNG", "CHiVGTokenizerData"], path: "Sources/HiVGPipeline"),
        // Photo + expression → box with HiVG's eval semantics; batch runner, shards, eval scoring.
        .target(name: "HiVGGround", dependencies: ["HiVGCore", "HiVGFormats", "HiVGModel", "HiVGForward", "HiVGPipeline"]),
        .executableTarget(name: "hivgkit", dependencies: [
            "HiVGCore", "HiVGFormats", "HiVGModel", "HiVGSurgery", "HiVGForward", "HiVGExport", "HiVGPipeline", "HiVGGround", "HiVGRelease",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "hivgkit-bench", dependencies: ["HiVGCore", "HiVGFormats", "HiVGModel", "HiVGForward"]),
        // Fixture paths and manifests shared by the test targets (imports XCTest, so no product includes it).
        .target(name: "HiVGTestSupport", dependencies: ["HiVGCore", "HiVGFormats", "HiVGModel"], path: "Tests/HiVGTestSupport"),
        // One test target per library module: each test file lives in the target of the highest module it uses.
        .testTarget(name: "HiVGCoreTests", dependencies: ["HiVGCore", "HiVGTestSupport"]),
        .testTarget(name: "HiVGFormatsTests", dependencies: ["HiVGCore", "HiVGFormats", "HiVGTestSupport"]),
        .testTarget(name: "HiVGModelTests", dependencies: ["HiVGCore", "HiVGFormats", "HiVGModel", "HiVGTestSupport"]),
        .testTarget(name: "HiVGSurgeryTests", dependencies: ["HiVGCore", "HiVGFormats", "HiVGModel", "HiVGSurgery", "HiVGTestSupport"]),
        .testTarget(name: "HiVGForwardTests", dependencies: ["HiVGCore", "HiVGFormats", "HiVGModel", "HiVGSurgery", "HiVGForward", "HiVGTestSupport"]),
        .testTarget(name: "HiVGPipelineTests", dependencies: ["HiVGCore", "HiVGFormats", "HiVGPipeline", "HiVGTestSupport"]),
        .testTarget(name: "HiVGExportTests", dependencies: ["HiVGCore", "HiVGFormats", "HiVGModel", "HiVGSurgery", "HiVGForward", "HiVGExport", "HiVGTestSupport"]),
        .testTarget(name: "HiVGGroundTests", dependencies: ["HiVGModel", "HiVGForward", "HiVGPipeline", "HiVGGround", "HiVGTestSupport"]),
        .testTarget(name: "HiVGReleaseTests", dependencies: ["HiVGCore", "HiVGFormats", "HiVGModel", "HiVGForward", "HiVGRelease", "HiVGTestSupport"]),
    ]
)
