// A working column of the persistence reduction as a binary heap of (diameter, index, coefficient)
// entries whose top is the pivot, as in Ripser's working coboundary (Bauer 2021, section 3.3).

/// A coboundary (or reduction) entry: a simplex by its index in the combinatorial numbering, its
/// `diameter` and a coefficient in Z/p, packed in 16 bytes as `key = index << shift | coefficient`
/// (`shift` the bit width of p - 1, as Ripser packs them), so ordering by key orders by index.
struct RipsEntry {
    /// The simplex's diameter (its filtration value).
    var diameter: Double
    /// `index << shift | coefficient`.
    var key: Int

    /// The entry for simplex `index` with `coefficient` in `0..<p`, p - 1 < 2^shift.
    @inline(__always) init(diameter: Double, index: Int, coefficient: Int, shift: Int) {
        self.diameter = diameter
        key = (index &<< shift) | coefficient
    }

    /// The simplex's index.
    @inline(__always) func index(_ shift: Int) -> Int { key &>> shift }
    /// The coefficient.
    @inline(__always) func coefficient(_ shift: Int) -> Int { key & ((1 &<< shift) &- 1) }
}

/// A multiset of entries, popped in filtration order: smallest diameter first, ties by largest
/// index first (the forward filtration is (diameter ascending, index descending), so the top is the
/// pivot of a coboundary column). Entries of one simplex are summed mod p when popped.
struct EntryHeap {
    /// The heap array: `items[i]` precedes both its children.
    private(set) var items: [RipsEntry] = []

    /// Whether `a` comes out before `b`.
    @inline(__always) static func precedes(_ a: RipsEntry, _ b: RipsEntry) -> Bool {
        a.diameter < b.diameter || (a.diameter == b.diameter && a.key > b.key)
    }

    /// Empties the heap, keeping its storage.
    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    /// Adds `e` (sift-up on the raw buffer: this is the innermost loop of the reduction).
    mutating func push(_ e: RipsEntry) {
        items.append(e)
        items.withUnsafeMutableBufferPointer { h in
            guard let base = h.baseAddress else { return }
            var child = h.count &- 1
            while child > 0 {
                let parent = (child &- 1) >> 1
                if !EntryHeap.precedes(e, base[parent]) { break }
                base[child] = base[parent]
                child = parent
            }
            base[child] = e
        }
    }

    /// Removes and returns the top entry, or nil when empty.
    mutating func pop() -> RipsEntry? {
        guard let last = items.popLast() else { return nil }
        if items.isEmpty { return last }
        return items.withUnsafeMutableBufferPointer { h -> RipsEntry in
            guard let base = h.baseAddress else { return last }  // not reached: the heap is non-empty
            let top = base[0]
            let n = h.count
            var i = 0
            while true {
                var c = 2 &* i &+ 1
                if c >= n { break }
                if c &+ 1 < n && EntryHeap.precedes(base[c &+ 1], base[c]) { c &+= 1 }
                if !EntryHeap.precedes(base[c], last) { break }
                base[i] = base[c]
                i = c
            }
            base[i] = last
            return top
        }
    }

    /// Removes entries from the top until one simplex has a nonzero total coefficient (mod
    /// `prime`), and returns that simplex with its total; nil when the column sums to zero.
    mutating func popPivot(prime: Int, shift: Int) -> RipsEntry? {
        while let top = pop() {
            let index = top.index(shift)
            var coefficient = top.coefficient(shift)
            while let next = items.first, next.index(shift) == index {
                coefficient = (coefficient &+ next.coefficient(shift)) % prime
                _ = pop()
            }
            if coefficient != 0 {
                return RipsEntry(diameter: top.diameter, index: index, coefficient: coefficient, shift: shift)
            }
        }
        return nil
    }

    /// The pivot (as `popPivot`), left in the heap as one entry.
    mutating func pivot(prime: Int, shift: Int) -> RipsEntry? {
        guard let p = popPivot(prime: prime, shift: shift) else { return nil }
        push(p)
        return p
    }
}
