// The word list of a corpus: ids in order of first appearance, as `Dictionary.add_word` of PyTorch's
// `word_language_model` example (data.py) gives them. Words are compared byte for byte, as Python does.

/// Words and their ids `0..<count`, in order of first appearance.
///
/// Words are compared as UTF-8 bytes (no Unicode normalization), so two spellings that Swift's
/// `String ==` treats as equal (precomposed "é" and "e" + combining accent) are two words, as in
/// Python. Lookups go through an open-addressing hash table over a byte pool, which stays fast in
/// debug builds.
public struct Vocabulary: Sendable, Equatable {
    /// The bytes of every word, one after another.
    private var pool: [UInt8] = []
    /// Word `i` is `pool[starts[i] ..< starts[i + 1]]`; `starts` has `count + 1` entries.
    private var starts: [Int] = [0]
    /// The FNV-1a hash of every word, kept for growing the table.
    private var hashes: [UInt64] = []
    /// Open-addressing table of word ids, -1 where empty; its size is a power of two.
    private var table: [Int32] = Array(repeating: -1, count: 1024)

    /// The end-of-line token appended to every line (`<eos>`).
    public static let endOfLine = "<eos>"

    /// An empty vocabulary.
    public init() {}

    /// The number of words V.
    public var count: Int { hashes.count }

    /// The word with id `id` (0 ..< count).
    public func word(_ id: Int32) -> String {
        String(decoding: pool[starts[Int(id)]..<starts[Int(id) + 1]], as: UTF8.self)
    }

    /// Every word, in id order.
    public var words: [String] { (0..<count).map { word(Int32($0)) } }

    /// The id of `word`, or nil when the corpus does not have it.
    public func id(of word: String) -> Int32? {
        var bytes = Array(word.utf8)
        return bytes.withUnsafeMutableBufferPointer { find(UnsafeBufferPointer($0)).id }
    }

    /// The id of `word`, adding it with the next id when it is new.
    @discardableResult
    public mutating func add(_ word: String) -> Int32 {
        var bytes = Array(word.utf8)
        return bytes.withUnsafeMutableBufferPointer { add(UnsafeBufferPointer($0)) }
    }

    /// The id of the word spelled by `bytes`, adding it when it is new.
    mutating func add(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32 {
        let (found, slot, hash) = find(bytes)
        if let found { return found }
        let id = Int32(count)
        pool.append(contentsOf: bytes)
        starts.append(pool.count)
        hashes.append(hash)
        table[slot] = id
        if count * 2 > table.count { grow() }
        return id
    }

    /// FNV-1a (64 bit) of every word's bytes in id order, each followed by a newline (which no
    /// word holds): equal for two vocabularies exactly when they are equal, but for collisions.
    public func contentHash() -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        pool.withUnsafeBufferPointer { bytes in
            for id in 0..<count {
                for k in starts[id]..<starts[id + 1] { h = (h ^ UInt64(bytes[k])) &* 0x0000_0100_0000_01b3 }
                h = (h ^ 0x0A) &* 0x0000_0100_0000_01b3
            }
        }
        return h
    }

    /// FNV-1a (64 bit) of `bytes`.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    /// The id of `bytes` if present, the table slot where it would go, and its hash.
    private func find(_ bytes: UnsafeBufferPointer<UInt8>) -> (id: Int32?, slot: Int, hash: UInt64) {
        let hash = Self.hash(bytes)
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let id = table[slot]
            if id < 0 { return (nil, slot, hash) }
            if hashes[Int(id)] == hash && equals(Int(id), bytes) { return (id, slot, hash) }
            slot = (slot + 1) & mask
        }
    }

    /// Whether word `id` is spelled by `bytes`.
    private func equals(_ id: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = starts[id], length = starts[id + 1] - start
        guard length == bytes.count else { return false }
        for k in 0..<length where pool[start + k] != bytes[k] { return false }
        return true
    }

    /// Doubles the table and reinserts every id.
    private mutating func grow() {
        let size = table.count * 2, mask = size - 1
        var fresh = [Int32](repeating: -1, count: size)
        for id in 0..<count {
            var slot = Int(truncatingIfNeeded: hashes[id]) & mask
            while fresh[slot] >= 0 { slot = (slot + 1) & mask }
            fresh[slot] = Int32(id)
        }
        table = fresh
    }

    /// Two vocabularies are equal when they have the same words in the same order.
    public static func == (a: Vocabulary, b: Vocabulary) -> Bool { a.pool == b.pool && a.starts == b.starts }
}
