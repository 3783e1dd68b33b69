// What a task declares for the command line: its help, its default configuration and its own
// options (docs/adding-a-task.md).
import Foundation

/// What `moduli train <task>` says about a task, and the task's own options.
public struct TaskCommandLine<Options: Codable & Sendable & Equatable> {
    /// One line for the list of tasks.
    public var abstract: String
    /// The paragraph of `moduli train <task> --help`.
    public var discussion: String
    /// The configuration before any option (the paper's protocol).
    public var defaults: RunConfig<Options>
    /// The task's own options (a preset among them applies first).
    public var options: [ConfigOption<RunConfig<Options>>]
    /// Fills in values that depend on the task's data once the options are set; `given` holds the
    /// names of the options given (without dashes). It returns the data it read, if any, which the
    /// task then gets instead of reading it again (`TrainingTask.init(options:prepared:)`).
    public var complete: ((inout RunConfig<Options>, Set<String>) throws -> (any Sendable)?)?

    /// A command line from its parts.
    public init(
        abstract: String, discussion: String, defaults: RunConfig<Options>, options: [ConfigOption<RunConfig<Options>>],
        complete: ((inout RunConfig<Options>, Set<String>) throws -> (any Sendable)?)? = nil
    ) {
        self.abstract = abstract; self.discussion = discussion; self.defaults = defaults; self.options = options; self.complete = complete
    }
}
