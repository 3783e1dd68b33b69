// The version recorded in every run's config.json and checkpoint.

/// The version of moduli.
public enum ModuliVersion {
    /// Semantic version of the package.
    public static let string = "0.3.0"
}
