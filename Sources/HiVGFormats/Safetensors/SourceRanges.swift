#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HiVGCore

/// Where a tensor's bytes lie unchanged in a source file, so a writer can copy them file to file
/// (`AtomicFile.append(from:)`, `copy_file_range`) instead of through the memory map.
///
/// Only for a contiguous little-endian tensor on a `MappedRegion`. The file is reopened by path and
/// used only when it is the very file that is mapped: its device and inode must equal those the
/// kernel lists for the mapping in `/proc/self/maps` (a file replaced under the same name since it
/// was mapped is not used). Anywhere that check is not possible, nothing is copied this way.
final class SourceRanges {
    private var opened: [ObjectIdentifier: Int32] = [:]  // -1: not usable
    private var maps: [UInt: (dev: UInt64, ino: UInt64)]?

    deinit { for fd in opened.values where fd >= 0 { close(fd) } }

    /// The open file, offset and length of `t`'s bytes, or nil.
    func range(of t: Tensor) -> (fd: Int32, offset: Int, count: Int, path: String)? {
        #if os(Linux)
        guard t.isContiguous, !t.storage.bigEndian, let region = t.storage.source as? MappedRegion,
              let base = region.file.base else { return nil }
        let start = t.storageOffset * t.dtype.size, n = t.nbytes
        guard n > 0, start >= 0, start + n <= region.byteCount else { return nil }
        let fd = file(region.file, base: base)
        return fd >= 0 ? (fd, region.offset + start, n, region.file.path) : nil
        #else
        return nil
        #endif
    }

    private func file(_ m: MappedFile, base: UnsafeRawPointer) -> Int32 {
        let id = ObjectIdentifier(m)
        if let fd = opened[id] { return fd }
        var fd = open(m.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // checked below to be the mapped file; never blocks on a FIFO
        var st = stat()
        if fd >= 0 {
            let mapped = mapping(at: UInt(bitPattern: base))
            if fstat(fd, &st) != 0 || mapped == nil || mapped!.dev != UInt64(st.st_dev) || mapped!.ino != UInt64(st.st_ino)
                || Int(st.st_size) != m.count {
                close(fd)
                fd = -1
            }
        }
        opened[id] = fd
        return fd
    }

    /// glibc's dev_t encoding of major:minor (`makedev`).
    static func device(major: UInt32, minor: UInt32) -> UInt64 {
        let ma = UInt64(major), mi = UInt64(minor)
        return (ma & 0xffff_f000) << 32 | (ma & 0xfff) << 8 | (mi & 0xffff_ff00) << 12 | (mi & 0xff)
    }

    /// Device and inode of the file mapped at `address` (start of a mapping), from /proc/self/maps:
    /// `start-end perms offset major:minor inode path`, numbers in hex except the inode.
    private func mapping(at address: UInt) -> (dev: UInt64, ino: UInt64)? {
        if maps == nil {
            var table: [UInt: (dev: UInt64, ino: UInt64)] = [:]
            if let text = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) {
                for line in text.split(separator: "\n") {
                    let f = line.split(separator: " ", omittingEmptySubsequences: true)
                    guard f.count >= 5, let dash = f[0].firstIndex(of: "-"), let start = UInt(f[0][..<dash], radix: 16) else { continue }
                    let mm = f[3].split(separator: ":")
                    guard mm.count == 2, let major = UInt32(mm[0], radix: 16), let minor = UInt32(mm[1], radix: 16),
                          let ino = UInt64(f[4]), ino != 0 else { continue }
                    table[start] = (SourceRanges.device(major: major, minor: minor), ino)
                }
            }
            maps = table
        }
        return maps?[address]
    }
}
