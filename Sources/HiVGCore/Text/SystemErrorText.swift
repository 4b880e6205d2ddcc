import Foundation

/// Plain, lower-case words for operating-system failures, for messages a person reads: never
/// Foundation's `NSCocoaErrorDomain` text, an `errno` name, or the name of a temporary file.
public enum SystemErrorText {
    /// The phrase for an `errno` value (`no such file or folder`, `permission denied`, …).
    public static func phrase(errno code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file or folder"
        case EACCES, EPERM: return "permission denied"
        case ENOSPC: return "no space left on the device"
        case EDQUOT: return "disk quota exceeded"
        case EROFS: return "read-only file system"
        case EISDIR: return "is a folder"
        case ENOTDIR: return "a part of the path is not a folder"
        case EEXIST: return "already exists"
        case EFBIG: return "file too large for the file system"
        case EIO: return "input/output error of the device"
        case ENAMETOOLONG: return "name too long"
        case ELOOP: return "too many symbolic links"
        case EMFILE, ENFILE: return "too many open files"
        case ENOMEM: return "out of memory"
        default:
            let s = String(cString: strerror(code))
            return s.prefix(1).lowercased() + s.dropFirst()
        }
    }

    /// The phrase for the current `errno`.
    public static var current: String { phrase(errno: errno) }

    /// The phrase for an error thrown by Foundation (file manager, `Data(contentsOf:)`, …): its POSIX
    /// code where it carries one, else the Cocoa code's meaning, else its description, lower-cased.
    public static func phrase(of error: Error) -> String {
        let e = error as NSError
        if e.domain == NSPOSIXErrorDomain { return phrase(errno: Int32(e.code)) }
        if let u = e.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain { return phrase(errno: Int32(u.code)) }
        if e.domain == NSCocoaErrorDomain {
            switch CocoaError.Code(rawValue: e.code) {
            case .fileNoSuchFile, .fileReadNoSuchFile: return phrase(errno: ENOENT)
            case .fileReadNoPermission, .fileWriteNoPermission: return phrase(errno: EACCES)
            case .fileWriteOutOfSpace: return phrase(errno: ENOSPC)
            case .fileWriteVolumeReadOnly: return phrase(errno: EROFS)
            case .fileWriteFileExists: return phrase(errno: EEXIST)
            case .fileReadCorruptFile: return "the file is damaged"
            case .fileReadInapplicableStringEncoding, .fileReadUnknownStringEncoding: return "not UTF-8 text"
            case .fileReadTooLarge: return "the file is too large"
            default: break
            }
        }
        let s = "\(error)"
        return s.contains("Domain=") ? "the system refused (error \(e.code))" : s.prefix(1).lowercased() + s.dropFirst()
    }
}
