// The memory of a model's passes on the CPU backend, kept from step to step: the CPU form of the
// workspace a device model allocates once.
import Compute
import Foundation
import Linalg

/// A CPU backend and a workspace in its memory that lasts from call to call, grown (a fresh backend
/// and workspace, the old memory freed) when a call needs more than it holds. A model that runs its
/// step on the backend holds one, so that a step on the CPU does not allocate and clear its
/// activations every time.
///
/// Thread safety: calls are serialized by a lock (the body runs with it held).
public final class HostWorkspace<Scalar: BLASScalar>: @unchecked Sendable {
    private let lock = NSLock()
    private var cpu: CPUBackend<Scalar>
    private var workspace: Workspace<Scalar>

    /// An empty workspace (memory is allocated by the first call).
    public init() {
        cpu = CPUBackend(Scalar.self)
        workspace = Workspace(storage: cpu.buffer(over: UnsafeBufferPointer<Scalar>(start: nil, count: 0)))
    }

    /// Runs `body` with the backend and the workspace, reset and at least `count` elements large.
    /// Everything `body` takes from the workspace is valid until the next call.
    public func with<R>(count: Int, _ body: (CPUBackend<Scalar>, inout Workspace<Scalar>) throws -> R) throws -> R {
        try lock.withLock {
            if workspace.storage.count < count {
                cpu = CPUBackend(Scalar.self)
                workspace = try cpu.makeWorkspace(count: count)
            }
            workspace.reset()
            return try body(cpu, &workspace)
        }
    }
}

/// One `HostWorkspace` per scalar type, made on first use: for a model whose passes run in Float
/// in training and in Double in its gradient checks.
public final class HostWorkspaces: @unchecked Sendable {
    private let lock = NSLock()
    private var workspaces: [ObjectIdentifier: AnyObject] = [:]

    /// No workspace yet.
    public init() {}

    /// The workspace for `scalar`.
    public func workspace<Scalar: BLASScalar>(_ scalar: Scalar.Type) -> HostWorkspace<Scalar> {
        lock.withLock {
            if let w = workspaces[ObjectIdentifier(scalar)] as? HostWorkspace<Scalar> { return w }
            let w = HostWorkspace<Scalar>()
            workspaces[ObjectIdentifier(scalar)] = w
            return w
        }
    }
}
