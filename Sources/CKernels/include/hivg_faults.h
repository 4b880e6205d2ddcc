// Faults a Swift program cannot handle itself: SIGBUS from a mapped input that shrank, and the
// temporaries an interrupted write leaves. Both need a signal handler that only makes
// async-signal-safe calls, so the state it reads lives here, in fixed tables of atomics.
#ifndef HIVG_FAULTS_H
#define HIVG_FAULTS_H
#include <stddef.h>

/// Records a read-only mapping of `path`; returns its slot (for hivg_mapping_forget), or -1 when the
/// table is full (the mapping then goes unnamed in a SIGBUS report).
int hivg_mapping_note(const void *base, size_t length, const char *path);
/// Forgets the mapping in `slot` (before it is unmapped).
void hivg_mapping_forget(int slot);

/// Records a temporary file to remove if the process is interrupted; returns its slot or -1.
int hivg_temporary_note(const char *path);
/// Forgets a temporary (renamed into place or removed).
void hivg_temporary_forget(int slot);

/// Installs the handlers: SIGBUS inside a noted mapping prints one line
/// `<program>: error: <path>: changed while being read (…)` and exits 1 (other SIGBUS: the default
/// action); SIGINT, SIGTERM, SIGHUP remove the noted temporaries and exit 128 + the signal.
/// `program` is copied.
void hivg_faults_install(const char *program);

#endif
