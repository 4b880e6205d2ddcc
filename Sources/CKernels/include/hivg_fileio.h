// Linux file-copy and memory-advice calls Swift's Glibc module does not declare (they need _GNU_SOURCE).
#ifndef HIVG_FILEIO_H
#define HIVG_FILEIO_H
#include <stddef.h>
#include <stdint.h>

/// copy_file_range(fd_in, &offset, fd_out, NULL, len, 0): bytes copied (offset advanced), or -1 with
/// errno (ENOSYS where the call does not exist).
long hivg_copy_file_range(int fd_in, int64_t *offset, int fd_out, size_t len);
/// Starts writeback of [offset, offset + len) without waiting (sync_file_range SYNC_FILE_RANGE_WRITE);
/// 0, or -1 with errno. A hint: the data is made durable by fsync as before.
int hivg_start_writeback(int fd, int64_t offset, int64_t len);
/// An unnamed regular file in `dir` (O_TMPFILE, mode 0644 less the umask) for writing: its fd, or -1
/// with errno where the filesystem or kernel has none, or /proc/self/fd (needed to name it later) is
/// not there. A process killed before hivg_link_unnamed leaves nothing behind.
int hivg_open_unnamed(const char *dir);
/// Gives the unnamed file `fd` the name `target` (linkat through /proc/self/fd): 0, or -1 with errno
/// (EEXIST when `target` exists: link to a fresh name and rename over it instead).
int hivg_link_unnamed(int fd, const char *target);

#endif
