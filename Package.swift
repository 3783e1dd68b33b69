// swift-tools-version: 6.0
// moduli: recurrent networks with moduli regularization (geometric sparsification), on OpenBLAS.
// Reading the targets top to bottom shows the architecture; see README.md for the dependency diagram.
import PackageDescription

let package = Package(
    name: "moduli",
    products: [
        .executable(name: "moduli", targets: ["moduli"]),
        .executable(name: "moduli-gpu-check", targets: ["moduli-gpu-check"]),
        .library(name: "Experiments", targets: ["Experiments"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Formats", targets: ["Formats"]),
        .library(name: "Linalg", targets: ["Linalg"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1")
    ],
    targets: [
        // MARK: System libraries
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),

        // MARK: Numerics: matrices, BLAS, seeded randomness
        // Float CSR kernels for AVX2/FMA and AVX-512, chosen at run time (the package builds for baseline x86-64)
        .target(name: "CSparseKernels"),
        .target(
            name: "Linalg",
            dependencies: ["COpenBLAS", "CSparseKernels", .product(name: "RealModule", package: "swift-numerics")]
        ),

        // MARK: File formats: the strict JSON reader, NumPy .npy, safetensors, the sparse (CSR) model file
        .target(name: "Formats", dependencies: ["Linalg"]),

        // MARK: Compute backends: a training step's operations on the CPU (OpenBLAS, Float and Double)
        // and CUDA (dlopen, Float); the optimizers, masks, clipping and penalty run on them, the layers not yet
        .target(name: "Compute", dependencies: ["Linalg", .product(name: "RealModule", package: "swift-numerics")]),
        .executableTarget(name: "moduli-gpu-check", dependencies: ["Compute"]),

        // MARK: Moduli spaces (knows nothing of networks)
        .target(name: "Geometry", dependencies: ["Linalg"]),

        // MARK: Neural networks (knows nothing of geometry)
        .target(name: "NN", dependencies: ["Linalg", "Formats", "Compute"]),

        // MARK: Where geometry meets networks: the moduli regularizer, pruning, lottery tickets
        .target(
            name: "Sparsity",
            dependencies: ["Linalg", "Geometry", "NN", "Formats", "Compute", .product(name: "RealModule", package: "swift-numerics")]
        ),

        // MARK: The shape of data: persistent homology of point clouds (knows nothing of networks)
        .target(name: "Topology"),

        // MARK: Tasks, the trainer, run directories
        .target(
            name: "Experiments",
            dependencies: ["Linalg", "Compute", "Formats", "Geometry", "NN", "Sparsity", "Topology"],
            resources: [.copy("Language/wikitext-2")]
        ),

        // MARK: Reports from run directories
        .target(name: "Reports", dependencies: ["Experiments", "Sparsity", "Geometry", "NN", "Formats", "Linalg", "Topology"]),

        // MARK: Command line
        .target(
            name: "ModuliCLI",
            dependencies: [
                "Experiments", "Reports", "NN", "Sparsity", "Topology", "Linalg",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ]
        ),
        .executableTarget(name: "moduli", dependencies: ["ModuliCLI", "Experiments"]),

        // MARK: Tests
        .target(name: "_TestSupport", dependencies: ["Linalg"], path: "Tests/_TestSupport"),
        .testTarget(name: "LinalgTests", dependencies: ["Linalg", "CSparseKernels", "_TestSupport"]),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "Linalg", "_TestSupport"]),
        .testTarget(name: "GeometryTests", dependencies: ["Geometry", "Linalg", "_TestSupport"]),
        .testTarget(
            name: "NNTests", dependencies: ["NN", "Compute", "Formats", "Linalg", "_TestSupport"], resources: [.copy("References")]),
        .testTarget(name: "SparsityTests", dependencies: ["Sparsity", "Geometry", "NN", "Formats", "Linalg", "Compute", "_TestSupport"]),
        .testTarget(
            name: "ExperimentsTests",
            dependencies: ["Experiments", "Compute", "Sparsity", "Geometry", "NN", "Formats", "Linalg", "_TestSupport"]),
        .testTarget(
            name: "ReportsTests",
            dependencies: ["Reports", "Experiments", "Sparsity", "Geometry", "NN", "Formats", "Linalg", "Topology", "_TestSupport"]),
        .testTarget(name: "ComputeTests", dependencies: ["Compute", "NN", "Linalg", "_TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["ModuliCLI", "Experiments", "Compute", "NN", "Linalg", "_TestSupport"]),
        .testTarget(name: "TopologyTests", dependencies: ["Topology", "_TestSupport"])
    ],
    swiftLanguageModes: [.v6]
)
