// Argument checks shared by every backend, so that a bad size or a foreign buffer is an error
// with a message, never a trap or an out-of-bounds access.
import Linalg

/// The checks one backend runs on the buffers and sizes an operation receives.
@usableFromInline
struct BufferChecks<Scalar: BLASScalar> {
    /// The identity that the backend's buffers carry.
    @usableFromInline let owner: UInt
    /// The backend's name, for messages.
    @usableFromInline let backend: String

    @inlinable init(owner: UInt, backend: String) {
        self.owner = owner
        self.backend = backend
    }

    /// Throws unless `b` is memory of this backend.
    @inlinable func own(_ b: ComputeBuffer<Scalar>, _ name: String, _ op: String) throws {
        guard b.owner == owner else {
            throw ComputeError.invalidArgument("\(op): \(name) belongs to another backend than \(backend)")
        }
    }

    /// Throws unless `b` is this backend's and holds at least `count` elements.
    @inlinable func need(_ b: ComputeBuffer<Scalar>, _ name: String, count: Int, _ op: String) throws {
        try own(b, name, op)
        guard b.count >= count else {
            throw ComputeError.invalidArgument("\(op): \(name) has \(b.count) elements, needs \(count)")
        }
    }

    /// Throws unless `b` holds a row-major `rows x columns` matrix with leading dimension `ld`.
    @inlinable func matrix(_ b: ComputeBuffer<Scalar>, _ name: String, rows: Int, columns: Int, ld: Int, _ op: String) throws {
        try own(b, name, op)
        guard ld >= max(1, columns) else {
            throw ComputeError.invalidArgument("\(op): leading dimension of \(name) is \(ld), must be at least \(max(1, columns))")
        }
        guard rows > 0 && columns > 0 else { return }
        let (span, o1) = (rows - 1).multipliedReportingOverflow(by: ld)
        let (needed, o2) = span.addingReportingOverflow(columns)
        guard !o1 && !o2 && b.count >= needed else {
            throw ComputeError.invalidArgument(
                "\(op): \(name) (\(rows) x \(columns), leading dimension \(ld)) needs \(o1 || o2 ? "more than Int.max" : "\(needed)") "
                    + "elements, the buffer has \(b.count)")
        }
    }

    /// Throws unless every size is non-negative; returns their product, or throws on overflow.
    @inlinable func sizes(_ op: String, _ named: (String, Int)...) throws -> Int {
        var product = 1
        for (name, value) in named {
            guard value >= 0 else { throw ComputeError.invalidArgument("\(op): \(name) is \(value), must be non-negative") }
            let (p, overflow) = product.multipliedReportingOverflow(by: value)
            guard !overflow else { throw ComputeError.invalidArgument("\(op): the sizes \(named) overflow") }
            product = p
        }
        return product
    }

    /// Throws unless every size fits a 32-bit BLAS or kernel argument.
    @inlinable func int32(_ op: String, _ named: (String, Int)...) throws {
        for (name, value) in named where value > Int(Int32.max) || value < 0 {
            throw ComputeError.invalidArgument("\(op): \(name) = \(value) does not fit a 32-bit size")
        }
    }
}
