// A monotonic wall clock for timings (clock_gettime, CLOCK_MONOTONIC).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Seconds from an arbitrary fixed point, never going backwards.
public enum MonotonicClock {
    /// The current time in seconds.
    public static func seconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
