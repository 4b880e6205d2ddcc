#define _GNU_SOURCE
#include "hivg_fileio.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

long hivg_copy_file_range(int fd_in, int64_t *offset, int fd_out, size_t len) {
#if defined(__linux__)
    __off64_t off = (__off64_t)*offset;
    ssize_t n = copy_file_range(fd_in, &off, fd_out, NULL, len, 0);
    if (n > 0) *offset = (int64_t)off;
    return (long)n;
#else
    (void)fd_in; (void)offset; (void)fd_out; (void)len;
    errno = ENOSYS;
    return -1;
#endif
}

int hivg_start_writeback(int fd, int64_t offset, int64_t len) {
#if defined(__linux__)
    return sync_file_range(fd, (off_t)offset, (off_t)len, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)len;
    errno = ENOSYS;
    return -1;
#endif
}

int hivg_open_unnamed(const char *dir) {
#if defined(__linux__) && defined(O_TMPFILE)
    if (access("/proc/self/fd", X_OK) != 0) return -1;
    return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
#else
    (void)dir;
    errno = EOPNOTSUPP;
    return -1;
#endif
}

int hivg_link_unnamed(int fd, const char *target) {
#if defined(__linux__)
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, target, AT_SYMLINK_FOLLOW);
#else
    (void)fd; (void)target;
    errno = ENOSYS;
    return -1;
#endif
}
