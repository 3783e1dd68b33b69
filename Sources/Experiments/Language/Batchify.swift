// Columns of a token stream and the bptt windows over them, as `batchify` and `get_batch` of PyTorch's
// `word_language_model` example (main.py): B columns (20 for training, 10 for evaluation), windows of T = bptt rows.

/// A token stream laid out as a `rows x columns` matrix whose column `b` is the contiguous stretch
/// `ids[b * rows ..< (b + 1) * rows]`: element `[t, b] = ids[b * rows + t]`.
///
/// Stored row-major, so row `t` (one time step of all B columns) is contiguous.
public struct BatchifiedTokens: Sendable, Equatable {
    /// Rows: time steps, `ids.count / columns` (the tail that does not fill a row is dropped).
    public let rows: Int
    /// Columns: B, the parallel streams of a batch.
    public let columns: Int
    /// The `rows x columns` token ids, row-major.
    public let ids: [Int32]

    /// The token at row `t`, column `b`.
    public subscript(_ t: Int, _ b: Int) -> Int32 { ids[t * columns + b] }
}

/// Cuts `ids` into `columns` contiguous stretches of `ids.count / columns` tokens (dropping the tail
/// that does not fill a stretch) and lays them side by side as the columns of a matrix, as the
/// example's `batchify(data, bsz)`: `[t, b] = ids[b * rows + t]`. `columns` must be at least 1.
public func batchify(_ ids: [Int32], columns: Int) -> BatchifiedTokens {
    precondition(columns >= 1, "batchify needs at least one column, got \(columns)")
    let rows = ids.count / columns
    var laid = [Int32](repeating: 0, count: rows * columns)
    ids.withUnsafeBufferPointer { source in
        laid.withUnsafeMutableBufferPointer { target in
            for b in 0..<columns {
                let start = b * rows
                for t in 0..<rows { target[t * columns + b] = source[start + t] }
            }
        }
    }
    return BatchifiedTokens(rows: rows, columns: columns, ids: laid)
}

/// One bptt window: inputs are rows `[start, start + length)`, targets rows `[start + 1, start + 1 + length)`.
public struct BPTTWindow: Sendable, Equatable {
    /// The first input row.
    public let start: Int
    /// T, the rows in this window: bptt, or fewer for the last window.
    public let length: Int
    /// B, the columns.
    public let columns: Int
    /// The `T x B` input ids, row-major (a slice of the source: its indices start at `start * B`).
    public let inputs: ArraySlice<Int32>
    /// The `T x B` target ids, row-major: the token after each input in its column.
    public let targets: ArraySlice<Int32>

    /// The input at step `t`, column `b`.
    public func input(_ t: Int, _ b: Int) -> Int32 { inputs[inputs.startIndex + t * columns + b] }
    /// The target at step `t`, column `b`.
    public func target(_ t: Int, _ b: Int) -> Int32 { targets[targets.startIndex + t * columns + b] }
}

/// The position in a pass of bptt windows over batchified tokens: Codable, so that a checkpoint
/// holds it and a resumed run continues at the same window.
///
/// Windows start at rows 0, bptt, 2 bptt, ... while a target row remains (start < rows - 1), and
/// take `min(bptt, rows - 1 - start)` rows, as the example's `get_batch`. Every row but the first is
/// a target exactly once per pass.
public struct BPTTWindows: Codable, Sendable, Equatable {
    /// T, the rows of a full window (35 in the paper).
    public let bptt: Int
    /// The first input row of the next window.
    public private(set) var position: Int

    /// A pass of windows of `bptt` rows, starting at row `position`. `bptt` must be at least 1.
    public init(bptt: Int, position: Int = 0) {
        precondition(bptt >= 1 && position >= 0, "BPTTWindows needs bptt >= 1 and position >= 0, got \(bptt), \(position)")
        self.bptt = bptt; self.position = position
    }

    /// Decodes a saved state; a bptt below 1 or a negative position is an error.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let bptt = try c.decode(Int.self, forKey: .bptt), position = try c.decode(Int.self, forKey: .position)
        guard bptt >= 1, position >= 0 else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "bptt must be at least 1 and position at least 0, got bptt \(bptt), position \(position)"))
        }
        self.bptt = bptt; self.position = position
    }

    /// The number of windows in a pass over `rows` rows.
    public static func count(rows: Int, bptt: Int) -> Int { rows < 2 ? 0 : (rows - 2) / bptt + 1 }

    /// Whether the pass over `tokens` is over.
    public func isFinished(in tokens: BatchifiedTokens) -> Bool { position >= tokens.rows - 1 }

    /// The next window over `tokens`, advancing the position; nil when the pass is over.
    public mutating func next(in tokens: BatchifiedTokens) -> BPTTWindow? {
        guard !isFinished(in: tokens) else { return nil }
        let start = position, length = min(bptt, tokens.rows - 1 - start), b = tokens.columns
        position = start + bptt
        return BPTTWindow(
            start: start, length: length, columns: b,
            inputs: tokens.ids[start * b..<(start + length) * b],
            targets: tokens.ids[(start + 1) * b..<(start + 1 + length) * b])
    }

    /// Goes back to the first window, for the next pass (epoch).
    public mutating func rewind() { position = 0 }
}
