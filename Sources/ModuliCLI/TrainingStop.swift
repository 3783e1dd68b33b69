// What `moduli train` does when a run ends early: a stop asked for by a signal (SIGINT, SIGTERM,
// SIGHUP) is reported with the command that continues the run and the exit status 128 + the
// signal; an error that leaves the new run directory empty removes that directory again.
import ArgumentParser
import Experiments
import Foundation

/// Runs `body`, the training of the run in `directory`.
///
/// - `TrainingStopped` (the trainer saved a checkpoint and stopped between two steps): the message
///   on stderr, exit status 130 (SIGINT), 143 (SIGTERM) or 129 (SIGHUP).
/// - any other error: the run directory is removed when this process created it and nothing was
///   written into it (`RunDirectory.removeIfUnused`), then the error goes on.
func runTraining<T>(in directory: RunDirectory, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let stopped as TrainingStopped {
        FileHandle.standardError.write(Data((stopped.description + "\n").utf8))
        throw ExitCode(stopped.exitStatus)
    } catch {
        directory.removeIfUnused()
        throw error
    }
}
