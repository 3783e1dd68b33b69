// Principal component analysis of a point cloud in Double: the mean, the sample covariance, and its
// top eigenvectors by orthogonal (subspace) iteration with Rayleigh-Ritz steps solved by cyclic
// Jacobi rotations. Reference: Golub and Van Loan, "Matrix Computations", sections 8.2.4 and 8.5.

/// The top principal components of a point cloud, and the projection onto them.
public struct PrincipalComponents: Sendable {
    /// The mean of the points.
    public let mean: [Double]
    /// Unit vectors, orthogonal to each other, by decreasing variance; each vector's largest entry
    /// (in magnitude, the first of equal ones) is positive, so the result is deterministic.
    public let components: [[Double]]
    /// The variance of the points along each component (eigenvalues of the sample covariance,
    /// divided by n - 1).
    public let variances: [Double]
    /// The total variance of the points (the covariance's trace).
    public let totalVariance: Double

    /// The largest number of coordinates analysed: the covariance is a dense `d x d` matrix.
    public static let maximumCoordinates = 8192

    /// The top `count` components of `points` (rows are points). Errors on an invalid cloud (see
    /// `PointCloud.validate`), a count below 1 or above the number of coordinates, and more than
    /// `maximumCoordinates` coordinates. Costs `n d^2 / 2` for the covariance.
    public init(points: [[Double]], count: Int) throws {
        try PointCloud.validate(points)
        let n = points.count, d = points[0].count
        guard d <= Self.maximumCoordinates else {
            throw TopologyError(
                "PCA of points with \(d) coordinates: at most \(Self.maximumCoordinates) are supported (the covariance is d x d).")
        }
        guard count >= 1 && count <= d else {
            throw TopologyError("PCA to \(count) dimensions of points with \(d) coordinates: choose between 1 and \(d).")
        }
        var mean = [Double](repeating: 0, count: d)
        for p in points { for k in 0..<d { mean[k] += p[k] } }
        for k in 0..<d { mean[k] /= Double(n) }
        // The upper triangle of the covariance, row-major, then mirrored.
        var c = [Double](repeating: 0, count: d * d)
        var centered = [Double](repeating: 0, count: d)
        c.withUnsafeMutableBufferPointer { cov in
            for p in points {
                for k in 0..<d { centered[k] = p[k] - mean[k] }
                for i in 0..<d {
                    let ci = centered[i]
                    if ci == 0 { continue }
                    let row = i * d
                    for j in i..<d { cov[row + j] += ci * centered[j] }
                }
            }
            let scale = 1 / Double(max(n - 1, 1))
            for i in 0..<d {
                for j in i..<d { cov[i * d + j] *= scale; cov[j * d + i] = cov[i * d + j] }
            }
        }
        var trace = 0.0
        for i in 0..<d { trace += c[i * d + i] }
        let (values, vectors) = SymmetricEigen.top(count, of: c, size: d)
        self.mean = mean
        self.components = vectors
        self.variances = values.map { max($0, 0) }
        self.totalVariance = trace
    }

    /// `points` in the coordinates of the components: row i is `(p_i - mean) . components[j]` for
    /// each j. Errors on points whose length is not the mean's.
    public func project(_ points: [[Double]]) throws -> [[Double]] {
        let d = mean.count
        return try points.enumerated().map { i, p in
            guard p.count == d else {
                throw TopologyError("Point \(i) has \(p.count) coordinates; the components were computed for \(d).")
            }
            return components.map { v in
                var s = 0.0
                for k in 0..<d { s += (p[k] - mean[k]) * v[k] }
                return s
            }
        }
    }
}

/// Eigenvalues and eigenvectors of symmetric matrices in Double.
enum SymmetricEigen {
    /// All eigenpairs of the symmetric `n x n` matrix `a` (row-major) by cyclic Jacobi rotations;
    /// eigenvalues descending, eigenvectors as the columns of the returned row-major matrix.
    static func jacobi(_ a: [Double], size n: Int) -> (values: [Double], vectors: [Double]) {
        var a = a
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        var scale = 0.0
        for x in a { scale = max(scale, abs(x)) }
        if scale > 0 && n > 1 {
            for _ in 0..<100 {
                var off = 0.0
                for i in 0..<n { for j in (i + 1)..<n where j < n { off += a[i * n + j] * a[i * n + j] } }
                if off.squareRoot() <= 1e-15 * scale * Double(n) { break }
                for p in 0..<(n - 1) {
                    for q in (p + 1)..<n {
                        let apq = a[p * n + q]
                        if apq == 0 { continue }
                        let app = a[p * n + p], aqq = a[q * n + q]
                        // The rotation that zeroes a[p][q]: t = tan(theta), the smaller root.
                        let theta = (aqq - app) / (2 * apq)
                        let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                        let cs = 1 / (t * t + 1).squareRoot(), sn = t * cs
                        for k in 0..<n {
                            let akp = a[k * n + p], akq = a[k * n + q]
                            a[k * n + p] = cs * akp - sn * akq
                            a[k * n + q] = sn * akp + cs * akq
                        }
                        for k in 0..<n {
                            let apk = a[p * n + k], aqk = a[q * n + k]
                            a[p * n + k] = cs * apk - sn * aqk
                            a[q * n + k] = sn * apk + cs * aqk
                        }
                        a[p * n + q] = 0; a[q * n + p] = 0
                        for k in 0..<n {
                            let vkp = v[k * n + p], vkq = v[k * n + q]
                            v[k * n + p] = cs * vkp - sn * vkq
                            v[k * n + q] = sn * vkp + cs * vkq
                        }
                    }
                }
            }
        }
        let order = (0..<n).sorted { (a[$0 * n + $0], -$0) > (a[$1 * n + $1], -$1) }
        var vectors = [Double](repeating: 0, count: n * n)
        for (column, k) in order.enumerated() { for i in 0..<n { vectors[i * n + column] = v[i * n + k] } }
        return (order.map { a[$0 * n + $0] }, vectors)
    }

    /// The `k` largest eigenpairs of the symmetric `n x n` matrix `c` (row-major): orthogonal
    /// iteration on a block of `k + 8` vectors (all n when that is not smaller), each step followed
    /// by a Rayleigh-Ritz projection, until the top k residuals are below 1e-10 of the largest
    /// eigenvalue (at most 2000 steps). Eigenvectors are sign-normalized (largest entry positive).
    static func top(_ k: Int, of c: [Double], size n: Int) -> (values: [Double], vectors: [[Double]]) {
        let b = min(n, k + 8)
        // The block, column-major: q[j * n + i] is entry i of vector j. Start: the identity when the
        // block is the whole space, else deterministic pseudo-random vectors.
        var q = [Double](repeating: 0, count: b * n)
        if b == n {
            for j in 0..<n { q[j * n + j] = 1 }
        } else {
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            for i in 0..<(b * n) {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                q[i] = Double(z >> 11) / Double(1 << 53) - 0.5
            }
            orthonormalize(&q, vectors: b, size: n)
        }
        var values = [Double](repeating: 0, count: b)
        var ritz = [Double](repeating: 0, count: b * n)
        for _ in 0..<2000 {
            // z = C q
            var z = [Double](repeating: 0, count: b * n)
            for j in 0..<b {
                for i in 0..<n {
                    var s = 0.0
                    let row = i * n, col = j * n
                    for m in 0..<n { s += c[row + m] * q[col + m] }
                    z[col + i] = s
                }
            }
            // T = q^T z (b x b), its eigenpairs, the Ritz vectors q V and their images z V.
            var t = [Double](repeating: 0, count: b * b)
            for i in 0..<b {
                for j in 0..<b {
                    var s = 0.0
                    for m in 0..<n { s += q[i * n + m] * z[j * n + m] }
                    t[i * b + j] = s
                }
            }
            for i in 0..<b {
                for j in (i + 1)..<b where j < b { let m = (t[i * b + j] + t[j * b + i]) / 2; t[i * b + j] = m; t[j * b + i] = m }
            }
            let (theta, v) = jacobi(t, size: b)
            var zv = [Double](repeating: 0, count: b * n)
            for j in 0..<b {
                for m in 0..<b {
                    let w = v[m * b + j]
                    if w == 0 { continue }
                    for i in 0..<n { zv[j * n + i] += w * z[m * n + i] }
                }
            }
            for j in 0..<b {
                for i in 0..<n {
                    var s = 0.0
                    for m in 0..<b { s += v[m * b + j] * q[m * n + i] }
                    ritz[j * n + i] = s
                }
            }
            values = theta
            var residual = 0.0
            for j in 0..<k {
                var r = 0.0
                for i in 0..<n { let e = zv[j * n + i] - theta[j] * ritz[j * n + i]; r += e * e }
                residual = max(residual, r.squareRoot())
            }
            if b == n || residual <= 1e-10 * max(abs(theta[0]), Double.leastNormalMagnitude) || theta[0] == 0 { break }
            q = zv
            orthonormalize(&q, vectors: b, size: n)
        }
        var vectors: [[Double]] = []
        for j in 0..<k {
            var vector = Array(ritz[(j * n)..<((j + 1) * n)])
            var largest = 0
            for i in 0..<n where abs(vector[i]) > abs(vector[largest]) { largest = i }
            if vector[largest] < 0 { for i in 0..<n { vector[i] = -vector[i] } }
            vectors.append(vector)
        }
        return (Array(values.prefix(k)), vectors)
    }

    /// Modified Gram-Schmidt, twice, on the column-major block `q`; a column that vanishes is
    /// replaced by the first standard basis vector that is independent of the earlier ones.
    static func orthonormalize(_ q: inout [Double], vectors b: Int, size n: Int) {
        for j in 0..<b {
            for _ in 0..<2 {
                for m in 0..<j {
                    var s = 0.0
                    for i in 0..<n { s += q[m * n + i] * q[j * n + i] }
                    for i in 0..<n { q[j * n + i] -= s * q[m * n + i] }
                }
            }
            var norm = 0.0
            for i in 0..<n { norm += q[j * n + i] * q[j * n + i] }
            norm = norm.squareRoot()
            if norm > 1e-150 {
                for i in 0..<n { q[j * n + i] /= norm }
                continue
            }
            for e in 0..<n {
                for i in 0..<n { q[j * n + i] = i == e ? 1 : 0 }
                for _ in 0..<2 {
                    for m in 0..<j {
                        let s = (0..<n).reduce(0.0) { $0 + q[m * n + $1] * q[j * n + $1] }
                        for i in 0..<n { q[j * n + i] -= s * q[m * n + i] }
                    }
                }
                norm = (0..<n).reduce(0.0) { $0 + q[j * n + $1] * q[j * n + $1] }.squareRoot()
                if norm > 0.5 { for i in 0..<n { q[j * n + i] /= norm }; break }
            }
        }
    }
}
