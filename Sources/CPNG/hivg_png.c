#include "hivg_png.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

struct hivg_png {
    png_structp png;
    png_infop info;
    const uint8_t *data;
    size_t size;
    size_t offset;
    int truncated;   // the reader ran past the end of the data
    int no_memory;
    char message[256];
};

static void on_error(png_structp png, png_const_charp text) {
    struct hivg_png *p = png_get_error_ptr(png);
    snprintf(p->message, sizeof p->message, "%s", text ? text : "libpng error");
    png_longjmp(png, 1);
}

// Warnings (e.g. a known-bad sRGB profile) do not stop Pillow either.
static void on_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

static void read_bytes(png_structp png, png_bytep out, size_t count) {
    struct hivg_png *p = png_get_io_ptr(png);
    if (count > p->size - p->offset) {
        p->truncated = 1;
        png_error(png, "premature end of PNG file");
    }
    memcpy(out, p->data + p->offset, count);
    p->offset += count;
}

hivg_png *hivg_png_create(const uint8_t *data, size_t size) {
    struct hivg_png *p = calloc(1, sizeof(struct hivg_png));
    if (!p) {
        return NULL;
    }
    p->data = data;
    p->size = size;
    p->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, p, on_error, on_warning);
    if (!p->png) {
        free(p);
        return NULL;
    }
    p->info = png_create_info_struct(p->png);
    if (!p->info) {
        png_destroy_read_struct(&p->png, NULL, NULL);
        free(p);
        return NULL;
    }
    png_set_read_fn(p->png, p, read_bytes);
    // Sizes are checked by the caller against its own pixel budget before it allocates; libpng's
    // default cap of 10^6 rows or columns would refuse thin images Pillow opens.
    png_set_user_limits(p->png, 0x7fffffff, 0x7fffffff);
    // Pillow refuses a bad checksum in any chunk it parses; libpng would drop a bad ancillary chunk.
    png_set_crc_action(p->png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
    return p;
}

static int status_after_error(struct hivg_png *p) {
    if (p->truncated) {
        return HIVG_PNG_TRUNCATED;
    }
    return strstr(p->message, "memory") ? HIVG_PNG_NO_MEMORY : HIVG_PNG_ERROR;
}

int hivg_png_read_info(hivg_png *p, hivg_png_info *info) {
    if (setjmp(png_jmpbuf(p->png))) {
        return status_after_error(p);
    }
    png_read_info(p->png, p->info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(p->png, p->info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    info->width = w;
    info->height = h;
    info->bit_depth = depth;
    info->color_type = color;
    info->interlaced = interlace != PNG_INTERLACE_NONE;
    info->row_bytes = png_get_rowbytes(p->png, p->info);
    info->palette_count = 0;
    png_colorp plte = NULL;
    int n = 0;
    if (png_get_PLTE(p->png, p->info, &plte, &n) == PNG_INFO_PLTE && plte) {
        if (n > 256) {
            n = 256;
        }
        for (int i = 0; i < n; i++) {
            info->palette[3 * i] = plte[i].red;
            info->palette[3 * i + 1] = plte[i].green;
            info->palette[3 * i + 2] = plte[i].blue;
        }
        info->palette_count = n;
    }
    return HIVG_PNG_OK;
}

const uint8_t *hivg_png_exif(hivg_png *p, size_t *size) {
    png_bytep exif = NULL;
    png_uint_32 n = 0;
    if (png_get_eXIf_1(p->png, p->info, &n, &exif) == 0 || !exif) {
        return NULL;
    }
    *size = n;
    return exif;
}

const char *hivg_png_text(hivg_png *p, const char *key, size_t *size) {
    png_textp text = NULL;
    int n = png_get_text(p->png, p->info, &text, NULL);
    for (int i = 0; i < n; i++) {
        if (text[i].key && strcmp(text[i].key, key) == 0 && text[i].text) {
            *size = text[i].compression >= PNG_ITXT_COMPRESSION_NONE ? text[i].itxt_length : text[i].text_length;
            return text[i].text;
        }
    }
    return NULL;
}

int hivg_png_decode(hivg_png *p, uint8_t *out, size_t out_size) {
    png_bytep *volatile rows = NULL;  // volatile: read after a longjmp
    if (setjmp(png_jmpbuf(p->png))) {
        free(rows);
        return status_after_error(p);
    }
    // Only now, after the caller checked the size: png_read_update_info allocates (and clears) row
    // buffers as wide as the image.
    if (png_get_interlace_type(p->png, p->info) != PNG_INTERLACE_NONE) {
        png_set_interlace_handling(p->png);
    }
    png_read_update_info(p->png, p->info);
    png_uint_32 h = png_get_image_height(p->png, p->info);
    size_t row_bytes = png_get_rowbytes(p->png, p->info);
    if (h == 0 || row_bytes == 0 || (size_t)h > out_size / row_bytes) {
        snprintf(p->message, sizeof p->message, "output buffer does not match the image");
        return HIVG_PNG_ERROR;
    }
    rows = malloc((size_t)h * sizeof(png_bytep));
    if (!rows) {
        snprintf(p->message, sizeof p->message, "out of memory");
        return HIVG_PNG_NO_MEMORY;
    }
    for (png_uint_32 y = 0; y < h; y++) {
        rows[y] = out + (size_t)y * row_bytes;
    }
    // The chunks after the image data are not read: Pillow ignores them too when it decodes.
    png_read_image(p->png, rows);
    free(rows);
    rows = NULL;
    return HIVG_PNG_OK;
}

const char *hivg_png_message(const hivg_png *p) { return p->message; }

void hivg_png_destroy(hivg_png *p) {
    if (!p) {
        return;
    }
    png_destroy_read_struct(&p->png, &p->info, NULL);
    free(p);
}

// ---- Encoding (8-bit RGB, no ancillary chunks: the same pixels always give the same bytes) ----

struct hivg_png_out {
    uint8_t *data;
    size_t size;
    size_t capacity;
    int no_memory;
    char message[256];
};

static void on_write_error(png_structp png, png_const_charp text) {
    struct hivg_png_out *o = png_get_error_ptr(png);
    snprintf(o->message, sizeof o->message, "%s", text ? text : "libpng error");
    png_longjmp(png, 1);
}

static void write_bytes(png_structp png, png_bytep in, size_t count) {
    struct hivg_png_out *o = png_get_io_ptr(png);
    if (count > o->capacity - o->size) {
        size_t want = o->capacity ? o->capacity : 65536;
        while (want - o->size < count) {
            if (want > SIZE_MAX / 2) {
                o->no_memory = 1;
                png_error(png, "out of memory");
            }
            want *= 2;
        }
        uint8_t *grown = realloc(o->data, want);
        if (!grown) {
            o->no_memory = 1;
            png_error(png, "out of memory");
        }
        o->data = grown;
        o->capacity = want;
    }
    memcpy(o->data + o->size, in, count);
    o->size += count;
}

static void flush_bytes(png_structp png) { (void)png; }

int hivg_png_encode_rgb(const uint8_t *pixels, uint32_t width, uint32_t height, uint8_t **out, size_t *out_size,
                        char *message, size_t message_size) {
    *out = NULL;
    *out_size = 0;
    // On the heap: its fields change between setjmp and a longjmp, so it must not live in a register.
    struct hivg_png_out *o = calloc(1, sizeof(struct hivg_png_out));
    if (!o) {
        snprintf(message, message_size, "out of memory");
        return HIVG_PNG_NO_MEMORY;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, o, on_write_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        free(o);
        snprintf(message, message_size, "out of memory");
        return HIVG_PNG_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        int status = o->no_memory ? HIVG_PNG_NO_MEMORY : HIVG_PNG_ERROR;
        snprintf(message, message_size, "%s", o->message);
        free(o->data);
        free(o);
        return status;
    }
    png_set_write_fn(png, o, write_bytes, flush_bytes);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++) {
        png_write_row(png, pixels + (size_t)y * width * 3);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = o->data;
    *out_size = o->size;
    free(o);
    return HIVG_PNG_OK;
}

void hivg_png_free(uint8_t *data) { free(data); }
