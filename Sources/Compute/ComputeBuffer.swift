// Buffers of one scalar type in a compute backend's memory (host memory for the CPU backend, device memory
// for CUDA), and a workspace that carves per-step scratch out of one buffer allocated up front.
import Linalg

/// A range of `count` elements of type `Scalar` in the memory of one `ComputeBackend`.
///
/// A buffer is a handle: it names memory the backend allocated (`ComputeBackend.allocate(count:)`)
/// or a slice of it, and stays valid as long as that backend lives. Element `i` lives at byte
/// `address + i * MemoryLayout<Scalar>.stride` of the backend's address space (a host pointer for `CPUBackend`, a
/// `CUdeviceptr` for `CUDABackend`). Every operation checks that its buffers belong to the backend
/// it runs on and are large enough, and throws `ComputeError.invalidArgument` otherwise.
public struct ComputeBuffer<Scalar: BLASScalar>: Sendable, Hashable, CustomStringConvertible {
    /// The identity of the backend that owns the memory.
    public let owner: UInt
    /// The address of element 0 in the owner's address space.
    public let address: UInt64
    /// Number of elements.
    public let count: Int

    /// A buffer handle; backends make these, callers slice them.
    @usableFromInline init(owner: UInt, address: UInt64, count: Int) {
        self.owner = owner
        self.address = address
        self.count = count
    }

    /// Elements `start ..< start + count` of this buffer. Throws when the range is not inside it.
    @inlinable public func slice(from start: Int, count: Int) throws -> ComputeBuffer<Scalar> {
        guard start >= 0, count >= 0, start <= self.count, count <= self.count - start else {
            throw ComputeError.invalidArgument(
                "slice \(start) ..< \(start) + \(count) is outside a buffer of \(self.count) elements")
        }
        return ComputeBuffer(owner: owner, address: address + UInt64(start) * UInt64(MemoryLayout<Scalar>.stride), count: count)
    }

    /// Rows `row ..< row + rowCount` of a row-major matrix with `columns` columns stored here.
    @inlinable public func rows(_ row: Int, count rowCount: Int, columns: Int) throws -> ComputeBuffer<Scalar> {
        guard columns >= 0, row >= 0, rowCount >= 0, row.multipliedReportingOverflow(by: columns).overflow == false,
            rowCount.multipliedReportingOverflow(by: columns).overflow == false
        else {
            throw ComputeError.invalidArgument("rows \(row) ..< \(row) + \(rowCount) of \(columns) columns: sizes overflow")
        }
        return try slice(from: row * columns, count: rowCount * columns)
    }

    public var description: String { "ComputeBuffer<\(Scalar.self)>(\(count) at 0x\(String(address, radix: 16)))" }
}

/// A bump allocator over one buffer: per-step scratch is taken from it and handed back all at
/// once with `reset()`, so a training step allocates no memory.
///
/// Every piece starts at a multiple of 64 elements (256 bytes or more), the alignment of `cuMemAlloc`,
/// so that kernels read whole memory transactions, and at least 64 elements after the end of the
/// piece before it: pieces whose sizes are multiples of 4 KB (a B x H state at B 32, H 128) would
/// otherwise share the low 12 bits of their addresses, and a CPU loop that reads one and writes
/// another stalls on the false dependency (4K aliasing: 30% of the adding step's ReLU backward).
public struct Workspace<Scalar: BLASScalar>: Sendable {
    /// The memory the pieces are taken from.
    public let storage: ComputeBuffer<Scalar>
    /// Elements handed out since the last `reset()`, alignment padding included.
    public private(set) var used = 0
    /// The largest `used` seen: the size a workspace for the same work needs.
    public private(set) var highWater = 0
    /// Whether `used` was just moved to a page boundary (the next piece starts there, no gap).
    private var atPage = false

    /// A workspace over `storage` (typically one `allocate(count:)` made when the model is built).
    public init(storage: ComputeBuffer<Scalar>) {
        self.storage = storage
    }

    /// The element alignment of every piece.
    public static var alignment: Int { 64 }

    /// Elements a workspace needs to hand out pieces of these sizes (each padded to the alignment,
    /// with the gap before it).
    public static func count(pieces: [Int]) -> Int {
        pieces.reduce(0) { $0 + alignment + ($1 + alignment - 1) / alignment * alignment }
    }

    /// The next `count` elements. Throws when the workspace is too small, naming the size needed.
    public mutating func take(_ count: Int) throws -> ComputeBuffer<Scalar> {
        let gap = used > 0 && !atPage ? Workspace.alignment : 0
        atPage = false
        let start = (used + gap + Workspace.alignment - 1) / Workspace.alignment * Workspace.alignment
        guard count >= 0, start <= storage.count, count <= storage.count - start else {
            throw ComputeError.invalidArgument(
                "workspace of \(storage.count) elements is too small: \(used) are in use and \(count) more were asked for; "
                    + "allocate at least \(start + max(count, 0)) elements")
        }
        used = start + count
        highWater = max(highWater, used)
        return try storage.slice(from: start, count: count)
    }

    /// Hands every piece back (their contents are left as they are).
    public mutating func reset() { used = 0; atPage = false }

    /// Elements of a 4 KB page: the most that `startPage()` skips.
    public static var pageElements: Int { 4096 / MemoryLayout<Scalar>.stride }

    /// Moves to the next multiple of 4 KB from the start, where the next piece begins: the pieces
    /// taken after it lie at the same addresses modulo 4 KB whatever came before (a step's inputs of
    /// any size), so the pairs of pieces that the gaps keep apart (4K aliasing, above) stay apart.
    public mutating func startPage() throws {
        let page = Workspace.pageElements
        let next = (used + page - 1) / page * page
        guard next <= storage.count else {
            throw ComputeError.invalidArgument(
                "workspace of \(storage.count) elements is too small: \(used) are in use and the page boundary is at \(next)")
        }
        used = next
        atPage = true
    }
}
