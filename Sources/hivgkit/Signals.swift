import HiVGCore

/// The process-wide signal policy of the CLI (the library only notes what the handlers need): a
/// mapped input truncated under a command ends it with one line naming the file and exit 1
/// instead of a bare SIGBUS; Ctrl-C, SIGTERM and SIGHUP remove the temporaries of unfinished
/// writes and exit 130, 143, 129.
enum Signals {
    static func install() {
        Faults.install(program: "hivgkit")
    }
}
