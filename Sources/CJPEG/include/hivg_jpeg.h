// Why this shim exists: libjpeg reports fatal errors by calling error_exit, which must not return, so
// a caller has to longjmp out of it. Swift cannot use setjmp; this C file keeps the setjmp/longjmp pair
// inside one function call and turns every libjpeg error into a return code plus a message. Swift sees
// only the opaque handle below, never a libjpeg type.
#ifndef HIVG_JPEG_H
#define HIVG_JPEG_H

#include <stddef.h>
#include <stdint.h>

/// One decode of one in-memory JPEG file.
typedef struct hivg_jpeg hivg_jpeg;

/// What the frame header says, read before any pixel buffer is allocated.
typedef struct {
    uint32_t width;
    uint32_t height;
    int components;       // 1, 3 or 4 (others are refused by hivg_jpeg_start)
    int precision;        // bits per sample (8 for every file libjpeg's 8-bit API decodes)
    int adobe_marker;     // 1 when an Adobe APP14 marker was seen
    int adobe_transform;  // its transform flag (0 none, 1 YCbCr, 2 YCCK)
} hivg_jpeg_info;

/// Status codes: HIVG_JPEG_OK, or an error whose text hivg_jpeg_message gives.
#define HIVG_JPEG_OK 0
#define HIVG_JPEG_ERROR 1
#define HIVG_JPEG_TRUNCATED 2
#define HIVG_JPEG_NO_MEMORY 3

/// A decoder over `size` bytes at `data` (not copied: they must outlive the handle); NULL when out of memory.
hivg_jpeg *hivg_jpeg_create(const uint8_t *data, size_t size);
/// Reads the headers up to the first scan; fills `info`.
int hivg_jpeg_read_header(hivg_jpeg *j, hivg_jpeg_info *info);
/// Decodes every row into `out` (height rows of width·components bytes) with Pillow's settings:
/// 1 component → grayscale, 3 → RGB, 4 → CMYK as stored (no inversion here); JDCT_ISLOW, fancy
/// upsampling, no scaling. A file that ends before its last scan returns HIVG_JPEG_TRUNCATED.
int hivg_jpeg_decode(hivg_jpeg *j, uint8_t *out, size_t out_size);
/// The last error's text (empty when none).
const char *hivg_jpeg_message(const hivg_jpeg *j);
/// Frees the decoder (NULL allowed).
void hivg_jpeg_destroy(hivg_jpeg *j);

#endif
