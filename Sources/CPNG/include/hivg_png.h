// Why this shim exists: libpng reports fatal errors by longjmp-ing to png_jmpbuf, which Swift cannot
// set up. This C file keeps each setjmp inside one call and turns every libpng error into a return
// code plus a message. Swift sees only the opaque handle below, never a libpng type.
#ifndef HIVG_PNG_H
#define HIVG_PNG_H

#include <stddef.h>
#include <stdint.h>

/// One decode of one in-memory PNG file.
typedef struct hivg_png hivg_png;

/// The IHDR fields and the palette, read before any pixel buffer is allocated.
typedef struct {
    uint32_t width;
    uint32_t height;
    int bit_depth;        // 1, 2, 4, 8 or 16
    int color_type;       // 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
    int interlaced;       // Adam7
    size_t row_bytes;     // bytes of one row (samples packed as stored, big-endian 16-bit)
    int palette_count;    // entries of PLTE (0 when absent)
    uint8_t palette[768]; // RGB triples
} hivg_png_info;

/// Status codes: HIVG_PNG_OK, or an error whose text hivg_png_message gives.
#define HIVG_PNG_OK 0
#define HIVG_PNG_ERROR 1
#define HIVG_PNG_TRUNCATED 2
#define HIVG_PNG_NO_MEMORY 3

/// A decoder over `size` bytes at `data` (not copied: they must outlive the handle); NULL when out of memory.
hivg_png *hivg_png_create(const uint8_t *data, size_t size);
/// Reads the signature and the chunks before the first IDAT; fills `info`.
int hivg_png_read_info(hivg_png *p, hivg_png_info *info);
/// The eXIf chunk seen before the image data (TIFF bytes), or NULL.
const uint8_t *hivg_png_exif(hivg_png *p, size_t *size);
/// The text of the first tEXt/zTXt/iTXt chunk named `key` seen before the image data, or NULL.
const char *hivg_png_text(hivg_png *p, const char *key, size_t *size);
/// Decodes every row into `out` (height · row_bytes bytes), de-interlacing, with no other transformation
/// (no gamma, no expansion, no stripping).
int hivg_png_decode(hivg_png *p, uint8_t *out, size_t out_size);
/// The last error's text (empty when none).
const char *hivg_png_message(const hivg_png *p);
/// Frees the decoder (NULL allowed).
void hivg_png_destroy(hivg_png *p);

/// Encodes `height` rows of `width` 8-bit RGB pixels (interleaved, rows top to bottom) as a PNG file in
/// memory: `*out` (free it with hivg_png_free) holds `*out_size` bytes. On error, `message` says why.
int hivg_png_encode_rgb(const uint8_t *pixels, uint32_t width, uint32_t height, uint8_t **out, size_t *out_size,
                        char *message, size_t message_size);
/// Frees an encoder's output.
void hivg_png_free(uint8_t *data);

#endif
