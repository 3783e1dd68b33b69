// swift-tools-version: 6.0
// moduli-bench: training-step benchmarks of the moduli library against PyTorch (see ../BENCHMARKS.md).
// Its own package, so that benchmark code and its dependencies never reach the library.
import PackageDescription

let package = Package(
    name: "moduli-benchmarks",
    dependencies: [
        .package(name: "moduli", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "moduli-bench",
            dependencies: [
                .product(name: "Linalg", package: "moduli"),
                .product(name: "NN", package: "moduli"),
                .product(name: "Experiments", package: "moduli"),
            ]
        ),
        .executableTarget(
            name: "recurrent-bench",
            dependencies: [
                .product(name: "Linalg", package: "moduli"),
                .product(name: "NN", package: "moduli"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
