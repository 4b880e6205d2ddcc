#define _GNU_SOURCE
#include "hivg_faults.h"
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

// Slots are claimed with a compare-and-swap on `state` (0 free, 1 being written, 2 live) so
// threads can note and forget concurrently and the handler only ever reads complete entries.
#define MAPPINGS 1024
#define TEMPORARIES 64
#define PATH_BYTES 1024

struct mapping { _Atomic int state; uintptr_t base; size_t length; char path[PATH_BYTES]; };
struct temporary { _Atomic int state; char path[PATH_BYTES]; };

static struct mapping mappings[MAPPINGS];
static struct temporary temporaries[TEMPORARIES];
static char program_name[64] = "hivgkit";

static int claim(_Atomic int *state) {
    int expected = 0;
    return atomic_compare_exchange_strong(state, &expected, 1);
}

static void copy_path(char *dst, const char *src) {
    size_t n = strlen(src);
    if (n >= PATH_BYTES) n = PATH_BYTES - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

int hivg_mapping_note(const void *base, size_t length, const char *path) {
    for (int i = 0; i < MAPPINGS; i++) {
        if (!claim(&mappings[i].state)) continue;
        mappings[i].base = (uintptr_t)base;
        mappings[i].length = length;
        copy_path(mappings[i].path, path);
        atomic_store(&mappings[i].state, 2);
        return i;
    }
    return -1;
}

void hivg_mapping_forget(int slot) {
    if (slot >= 0 && slot < MAPPINGS) atomic_store(&mappings[slot].state, 0);
}

int hivg_temporary_note(const char *path) {
    for (int i = 0; i < TEMPORARIES; i++) {
        if (!claim(&temporaries[i].state)) continue;
        copy_path(temporaries[i].path, path);
        atomic_store(&temporaries[i].state, 2);
        return i;
    }
    return -1;
}

void hivg_temporary_forget(int slot) {
    if (slot >= 0 && slot < TEMPORARIES) atomic_store(&temporaries[slot].state, 0);
}

static void say(const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

/// A path as it is printed: control bytes become `?` (no terminal escapes from a file name).
static void say_path(const char *p) {
    char buf[PATH_BYTES];
    size_t n = 0;
    for (; p[n] && n < PATH_BYTES - 1; n++) buf[n] = ((unsigned char)p[n] < 0x20 || p[n] == 0x7F) ? '?' : p[n];
    buf[n] = 0;
    say(buf);
}

static void remove_temporaries(void) {
    for (int i = 0; i < TEMPORARIES; i++)
        if (atomic_load(&temporaries[i].state) == 2) unlink(temporaries[i].path);
}

static void on_bus(int sig, siginfo_t *info, void *context) {
    (void)context;
    uintptr_t at = (uintptr_t)info->si_addr;
    for (int i = 0; i < MAPPINGS; i++) {
        if (atomic_load(&mappings[i].state) != 2) continue;
        if (at >= mappings[i].base && at - mappings[i].base < mappings[i].length) {
            // Several threads can fault on the same truncated file at once (the reader and the source
            // hasher): the first reports and exits, the others wait for that exit.
            static atomic_int reporting;
            if (atomic_exchange(&reporting, 1)) {
                for (;;) pause();
            }
            remove_temporaries();
            say(program_name);
            say(": error: ");
            say_path(mappings[i].path);
            say(": changed while being read (the file was truncated or replaced by another process)\n");
            _exit(1);
        }
    }
    // Not one of our inputs: a real fault. Restore the default action; returning re-faults.
    signal(sig, SIG_DFL);
}

static void on_stop(int sig) {
    remove_temporaries();
    _exit(128 + sig);
}

void hivg_faults_install(const char *program) {
    size_t n = strlen(program);
    if (n >= sizeof program_name) n = sizeof program_name - 1;
    memcpy(program_name, program, n);
    program_name[n] = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = on_bus;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
    struct sigaction st;
    memset(&st, 0, sizeof st);
    sigemptyset(&st.sa_mask);
    st.sa_handler = on_stop;
    sigaction(SIGINT, &st, NULL);
    sigaction(SIGTERM, &st, NULL);
    sigaction(SIGHUP, &st, NULL);
}
