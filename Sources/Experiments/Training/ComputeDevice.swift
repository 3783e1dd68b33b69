// `--device`: the compute backend a command's training, evaluation or sampling runs on, opened in
// one place for every command.
import Compute
import NN

/// The device on which a command runs its model's passes (`--device`).
public enum ComputeDevice: String, Codable, Sendable, CaseIterable {
    /// The CPU backend, over the host store's own memory (the default).
    case cpu
    /// An NVIDIA GPU through `CUDABackend` (cuBLAS and kernels compiled by NVRTC).
    case cuda

    /// Opens the device and runs `work` on it: on the CPU with device stores that are the host
    /// stores' own memory, on a GPU with copies in its memory.
    func run<Work: DeviceWork>(_ work: Work) throws -> Work.Result {
        switch self {
        case .cpu:
            let cpu = CPUBackend<Float>()
            return try work.run { DeviceStore(sharing: $0, on: cpu) }
        case .cuda:
            let gpu = try Self.openCUDA()
            return try work.run { try DeviceStore($0, on: gpu) }
        }
    }

    /// Opens `device` (nil: the CPU) and lets it go: a command calls this before it writes
    /// anything, so that a missing GPU leaves nothing behind. The error says what is missing.
    public static func require(_ device: ComputeDevice?) throws {
        if device == .cuda { _ = try openCUDA() }
    }

    /// The GPU of `--device cuda`; the error says what is missing and what to do.
    static func openCUDA() throws -> CUDABackend {
        do { return try CUDABackend() } catch {
            throw ExperimentError(
                """
                --device cuda needs an NVIDIA GPU with its driver, cuBLAS and NVRTC, and none is usable here: \
                run on the CPU (--device cpu, the default), or on a GPU machine (docs/gpu.md; make static builds a binary for \
                one). What is missing: \(error)
                """
            )
        }
    }
}

/// Work a command runs on whichever backend `--device` opens (`ComputeDevice.run`): generic over
/// the backend, so that one body serves every device.
protocol DeviceWork {
    associatedtype Result
    /// Runs with `deviceStore`, which puts a host store's tensors in the opened backend's memory.
    func run<Backend: ComputeBackend>(deviceStore: @escaping (ParameterStore<Float>) throws -> DeviceStore<Backend>) throws -> Result
    where Backend.Scalar == Float
}
