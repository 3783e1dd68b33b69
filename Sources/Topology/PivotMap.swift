// The pivot index of the cohomology reduction (Ripser's pivot_column_index): an open-addressing
// hash table with linear probing from a simplex index to the column whose reduced coboundary has
// that pivot, and the pivot's coefficient.

/// A map from a pivot simplex's index to (column, coefficient of the pivot in that column).
struct PivotMap {
    private var keys: [Int]
    private var columns: [Int]
    private var coefficients: [Int32]
    private var mask: Int
    /// The number of stored pivots.
    private(set) var count = 0

    /// An empty map sized for about `expected` pivots.
    init(expected: Int) {
        var capacity = 16
        while capacity < 2 * expected { capacity <<= 1 }
        keys = [Int](repeating: -1, count: capacity)
        columns = [Int](repeating: 0, count: capacity)
        coefficients = [Int32](repeating: 0, count: capacity)
        mask = capacity - 1
    }

    /// The slot where `key` is or would be: Fibonacci hashing, then linear probing.
    @inline(__always) private func slot(_ key: Int) -> Int {
        var h = Int(truncatingIfNeeded: (UInt64(bitPattern: Int64(key)) &* 0x9E37_79B9_7F4A_7C15) >> 17) & mask
        while keys[h] != -1 && keys[h] != key { h = (h + 1) & mask }
        return h
    }

    /// Whether `key` is a pivot.
    func contains(_ key: Int) -> Bool { keys[slot(key)] == key }

    /// The column and pivot coefficient stored for `key`, or nil.
    func find(_ key: Int) -> (column: Int, coefficient: Int)? {
        let h = slot(key)
        return keys[h] == key ? (columns[h], Int(coefficients[h])) : nil
    }

    /// Records that `column` has pivot `key` with `coefficient`.
    mutating func insert(_ key: Int, column: Int, coefficient: Int) {
        if 2 * (count + 1) > keys.count { grow() }
        let h = slot(key)
        if keys[h] != key { count += 1 }
        keys[h] = key
        columns[h] = column
        coefficients[h] = Int32(coefficient)
    }

    /// Doubles the table.
    private mutating func grow() {
        let oldKeys = keys, oldColumns = columns, oldCoefficients = coefficients
        keys = [Int](repeating: -1, count: oldKeys.count * 2)
        columns = [Int](repeating: 0, count: oldKeys.count * 2)
        coefficients = [Int32](repeating: 0, count: oldKeys.count * 2)
        mask = keys.count - 1
        for i in 0..<oldKeys.count where oldKeys[i] != -1 {
            let h = slot(oldKeys[i])
            keys[h] = oldKeys[i]
            columns[h] = oldColumns[i]
            coefficients[h] = oldCoefficients[i]
        }
    }
}
