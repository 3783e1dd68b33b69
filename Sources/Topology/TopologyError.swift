// The error every entry point of the Topology module throws on bad input (never a trap): what was
// wrong and what to do about it.

/// A problem with the input of a persistence computation: its `description` names what was wrong
/// and how to fix it.
public struct TopologyError: Error, CustomStringConvertible, Sendable {
    /// The message: the problem and what to do.
    public let description: String

    /// An error with message `description`.
    public init(_ description: String) { self.description = description }
}
