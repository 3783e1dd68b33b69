// Transparent huge pages for the large buffers of a training step: a matrix of tens of megabytes
// (the hidden states of every step, their gradients, the logits) is allocated afresh each step, and
// in 4 KiB pages its first writes cost one page fault per 4 KiB, taken on whichever thread writes
// first and serialized in the kernel. In 2 MiB pages the same buffer takes 512 times fewer faults.
#if canImport(Glibc)
    import Glibc
#endif

/// Asks the kernel for transparent huge pages behind large buffers (Linux `madvise(MADV_HUGEPAGE)`;
/// nothing elsewhere, and nothing where the kernel has them switched off).
public enum LargePages {
    /// The least size worth advising: a few huge pages. Smaller buffers come from the allocator's
    /// reused heap (`ProcessSetup.keepFreedMemory` keeps up to 32 MiB blocks there).
    public static let minimumBytes = 8 << 20

    /// The huge page size on x86-64 and arm64 with 4 KiB base pages.
    static let hugePageBytes = 2 << 20

    /// Advises huge pages for the whole 2 MiB-aligned pages inside `bytes` bytes at `start`, before
    /// they are first written; a buffer under `minimumBytes` is left alone. Advice only: contents,
    /// size and address stay as they are, and a kernel without the feature ignores it.
    @inlinable
    public static func advise(_ start: UnsafeMutableRawPointer, bytes: Int) {
        #if os(Linux)
            guard bytes >= minimumBytes else { return }
            adviseLinux(start, bytes: bytes)
        #endif
    }

    #if os(Linux)
        @usableFromInline
        static func adviseLinux(_ start: UnsafeMutableRawPointer, bytes: Int) {
            let address = UInt(bitPattern: start), mask = UInt(hugePageBytes - 1)
            let first = (address + mask) & ~mask, end = (address + UInt(bytes)) & ~mask
            guard end > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
            _ = madvise(pointer, Int(end - first), 14)  // MADV_HUGEPAGE of <sys/mman.h>
        }
    #endif
}
