import CKernels

/// The one Swift wrapper of CKernels' Linux file calls (hivg_fileio.h) for the writers.
public enum FileKernels {
    /// copy_file_range from `fd` at `offset` (advanced by what was copied) to `out`'s position:
    /// bytes copied, 0 at the source's end, or -1 with errno (ENOSYS off Linux).
    public static func copyFileRange(from fd: Int32, offset: inout Int64, to out: Int32, count: Int) -> Int {
        Int(hivg_copy_file_range(fd, &offset, out, count))
    }

    /// An unnamed file in `directory` for writing (O_TMPFILE), or nil where there is none.
    public static func openUnnamed(in directory: String) -> Int32? {
        let fd = hivg_open_unnamed(directory)
        return fd >= 0 ? fd : nil
    }

    /// Names the unnamed file `fd` `target`: 0, or -1 with errno (EEXIST: the target exists).
    public static func linkUnnamed(_ fd: Int32, to target: String) -> Int32 {
        hivg_link_unnamed(fd, target)
    }

    /// Starts writeback of a written range without waiting (a hint; fsync still makes it durable).
    @discardableResult
    public static func startWriteback(_ fd: Int32, offset: Int, count: Int) -> Bool {
        hivg_start_writeback(fd, Int64(offset), Int64(count)) == 0
    }
}
