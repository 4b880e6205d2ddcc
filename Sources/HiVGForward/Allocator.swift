#if canImport(Glibc)
import Glibc
#endif

/// Process-wide allocator settings for commands that run the forward pass.
public enum Allocator {
    /// A forward pass allocates and frees ~8 MB of activations per layer. With glibc's defaults each
    /// buffer over the (adaptive) mmap threshold gets fresh pages from the kernel, faulted in and zeroed
    /// every time; keeping freed memory in the heap instead (thresholds of 64 MB / 256 MB) removes those
    /// page faults. Called once by the command's entry point; memory returns to the system when the
    /// process ends.
    public static func keepFreedMemory() {
        #if canImport(Glibc)
        // mallopt(3) is in <malloc.h>, which the Glibc module does not show; M_TRIM_THRESHOLD = −1,
        // M_MMAP_THRESHOLD = −3.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        if let f = dlsym(nil, "mallopt") {
            let mallopt = unsafeBitCast(f, to: Mallopt.self)
            _ = mallopt(-3, 64 << 20)
            _ = mallopt(-1, 256 << 20)
        }
        #endif
    }
}
