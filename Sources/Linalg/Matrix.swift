// A dense row-major matrix of Float or Double, the currency type for activations and data.
import RealModule

/// A dense, row-major `rows x columns` matrix with value semantics.
///
/// Element (r, c) lives at `scalars[r * columns + c]`. Batched sequences use the time-major
/// layout `(T * B) x F`: row `t * B + b` is sample `b` at step `t`.
public struct Matrix<Scalar: BLASScalar>: Sendable, Equatable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int
    /// The elements, row by row. Read-only outside the package: write elements through the
    /// subscript or `withUnsafeMutableBufferPointer`, which keep the count at `rows * columns`.
    @inlinable public package(set) var scalars: [Scalar] {
        get { storage }
        set { storage = newValue }
        _modify { yield &storage }
    }

    /// The elements (the storage behind `scalars`).
    @usableFromInline var storage: [Scalar]

    /// A matrix filled with one value. Inlinable: callers in other modules (every layer's zero
    /// states and gradients) would otherwise fill it through a value-witness call per element.
    @inlinable public init(rows: Int, columns: Int, repeating value: Scalar = 0) {
        precondition(rows >= 0 && columns >= 0, "Matrix sizes must be non-negative, got \(rows) x \(columns)")
        self.rows = rows
        self.columns = columns
        let count = rows * columns
        self.storage = [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                LargePages.advise(buffer.baseAddress!, bytes: count * MemoryLayout<Scalar>.stride)
                buffer.baseAddress!.initialize(repeating: value, count: count)
            }
            initialized = count
        }
    }

    /// A matrix over existing row-major elements.
    public init(rows: Int, columns: Int, scalars: [Scalar]) {
        precondition(
            scalars.count == rows * columns,
            "Matrix \(rows) x \(columns) needs \(rows * columns) elements, got \(scalars.count)")
        self.rows = rows
        self.columns = columns
        self.storage = scalars
    }

    /// A matrix whose elements `body` writes, every one of them, through a pointer to fresh,
    /// uninitialized storage (no zero fill: for buffers that are overwritten at once).
    @inlinable
    public init(rows: Int, columns: Int, initializingWith body: (UnsafeMutablePointer<Scalar>) throws -> Void) rethrows {
        precondition(rows >= 0 && columns >= 0, "Matrix sizes must be non-negative, got \(rows) x \(columns)")
        self.rows = rows
        self.columns = columns
        let count = rows * columns
        self.storage = try [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                LargePages.advise(buffer.baseAddress!, bytes: count * MemoryLayout<Scalar>.stride)
                try body(buffer.baseAddress!)
            }
            initialized = count
        }
    }

    /// A matrix whose element (r, c) is `element(r, c)`.
    public init(rows: Int, columns: Int, element: (Int, Int) -> Scalar) {
        var s = [Scalar]()
        s.reserveCapacity(rows * columns)
        for r in 0..<rows { for c in 0..<columns { s.append(element(r, c)) } }
        self.init(rows: rows, columns: columns, scalars: s)
    }

    /// Number of elements.
    @inlinable public var count: Int { rows * columns }

    /// Element (row, column).
    @inlinable public subscript(row: Int, column: Int) -> Scalar {
        get { storage[row * columns + column] }
        set { storage[row * columns + column] = newValue }
    }

    /// Row `r` as an array.
    public func row(_ r: Int) -> [Scalar] { Array(scalars[(r * columns)..<((r + 1) * columns)]) }

    /// The transpose.
    public func transposed() -> Matrix {
        Matrix(rows: columns, columns: rows) { r, c in self[c, r] }
    }

    /// Converts every element to another scalar type.
    public func converted<Other: BLASScalar>(to: Other.Type = Other.self) -> Matrix<Other> {
        Matrix<Other>(rows: rows, columns: columns, scalars: scalars.map { Other($0) })
    }

    /// Calls `body` with a pointer to the elements.
    @inlinable public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Scalar>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with a mutable pointer to the elements.
    @inlinable public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Scalar>) throws -> R)
        rethrows -> R
    {
        try storage.withUnsafeMutableBufferPointer(body)
    }

    /// op(a) * op(b) through BLAS gemm.
    public static func product(
        _ a: Matrix, _ transA: Transpose = .noTranspose,
        _ b: Matrix, _ transB: Transpose = .noTranspose
    ) -> Matrix {
        let m = transA == .noTranspose ? a.rows : a.columns
        let k = transA == .noTranspose ? a.columns : a.rows
        let kb = transB == .noTranspose ? b.rows : b.columns
        let n = transB == .noTranspose ? b.columns : b.rows
        precondition(k == kb, "Matrix product: inner sizes differ (\(k) vs \(kb))")
        var c = Matrix(rows: m, columns: n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    Scalar.gemm(
                        transA, transB, m: m, n: n, k: k, alpha: 1,
                        a: pa.baseAddress!, lda: max(1, a.columns),
                        b: pb.baseAddress!, ldb: max(1, b.columns),
                        beta: 0, c: pc.baseAddress!, ldc: max(1, n))
                }
            }
        }
        return c
    }

    /// The largest absolute elementwise difference to another matrix of the same shape.
    public func maxAbsDifference(_ other: Matrix) -> Scalar {
        precondition(rows == other.rows && columns == other.columns, "Shapes differ")
        var m: Scalar = 0
        for i in 0..<count { m = Swift.max(m, Swift.abs(scalars[i] - other.scalars[i])) }
        return m
    }
}

extension Matrix: CustomStringConvertible {
    public var description: String {
        var s = "Matrix<\(Scalar.self)> \(rows) x \(columns)"
        for r in 0..<Swift.min(rows, 6) {
            s += "\n  " + row(r).prefix(8).map { "\($0)" }.joined(separator: " ")
        }
        return s
    }
}
