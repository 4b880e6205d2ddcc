import CKernels

/// Signals the process cannot otherwise survive cleanly (CKernels faults.c holds the tables and
/// handlers, which must be async-signal-safe): a mapped input truncated under us (SIGBUS) is
/// reported in one line naming the file, and an interrupted run (SIGINT, SIGTERM, SIGHUP) removes
/// the named temporaries of its writes. Mappings and temporaries are noted whether or not the
/// handlers are installed; installing is the program's choice (the CLI does, a library user may not).
public enum Faults {
    /// Installs the handlers; `program` starts the SIGBUS line (`hivgkit: error: …`).
    public static func install(program: String) {
        hivg_faults_install(program)
    }

    /// Notes a mapping of `path` so a SIGBUS inside it names the file; the slot goes to `forgetMapping`.
    static func noteMapping(base: UnsafeRawPointer, count: Int, path: String) -> Int32 {
        Int32(hivg_mapping_note(base, count, path))
    }

    static func forgetMapping(_ slot: Int32) { hivg_mapping_forget(slot) }

    /// Notes a named temporary file to remove if the process is interrupted.
    public static func noteTemporary(_ path: String) -> Int32 { Int32(hivg_temporary_note(path)) }

    /// Forgets a temporary (linked into place or removed).
    public static func forgetTemporary(_ slot: Int32) { hivg_temporary_forget(slot) }
}
