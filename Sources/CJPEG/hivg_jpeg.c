#include "hivg_jpeg.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <jpeglib.h>
#include <jerror.h>

struct hivg_jpeg {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr err;
    jmp_buf escape;
    int created;    // jpeg_create_decompress ran (destroy must run)
    int truncated;  // libjpeg hit the end of the data and inserted a fake EOI
    char message[JMSG_LENGTH_MAX];
};

static void on_error_exit(j_common_ptr cinfo) {
    struct hivg_jpeg *j = (struct hivg_jpeg *)cinfo->client_data;
    cinfo->err->format_message(cinfo, j->message);
    longjmp(j->escape, 1);
}

// Warnings are ignored as Pillow ignores them (its decoder silences output_message), except the end of
// the data: Pillow refuses a truncated file ("image file is truncated"), libjpeg would pad it with gray.
static void on_emit_message(j_common_ptr cinfo, int level) {
    struct hivg_jpeg *j = (struct hivg_jpeg *)cinfo->client_data;
    if (level < 0) {
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
            j->truncated = 1;
        }
        cinfo->err->num_warnings++;
    }
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

hivg_jpeg *hivg_jpeg_create(const uint8_t *data, size_t size) {
    struct hivg_jpeg *j = calloc(1, sizeof(struct hivg_jpeg));
    if (!j) {
        return NULL;
    }
    j->cinfo.err = jpeg_std_error(&j->err);
    j->err.error_exit = on_error_exit;
    j->err.emit_message = on_emit_message;
    j->err.output_message = on_output_message;
    j->cinfo.client_data = j;
    if (setjmp(j->escape)) {
        // jpeg_create_decompress only fails when out of memory.
        if (j->created) {
            jpeg_destroy_decompress(&j->cinfo);
        }
        free(j);
        return NULL;
    }
    jpeg_create_decompress(&j->cinfo);
    j->created = 1;
    // jpeg_mem_src takes an unsigned long size: refuse what it cannot express (never on 64-bit Linux).
    jpeg_mem_src(&j->cinfo, (const unsigned char *)data, (unsigned long)size);
    return j;
}

static int status_after_error(struct hivg_jpeg *j) {
    if (j->truncated) {
        return HIVG_JPEG_TRUNCATED;  // e.g. "no image" after libjpeg padded a cut-off file with EOI
    }
    return j->err.msg_code == JERR_OUT_OF_MEMORY ? HIVG_JPEG_NO_MEMORY : HIVG_JPEG_ERROR;
}

int hivg_jpeg_read_header(hivg_jpeg *j, hivg_jpeg_info *info) {
    if (setjmp(j->escape)) {
        return status_after_error(j);
    }
    jpeg_read_header(&j->cinfo, TRUE);
    if (j->truncated) {
        strcpy(j->message, "premature end of JPEG file in the headers");
        return HIVG_JPEG_TRUNCATED;
    }
    info->width = j->cinfo.image_width;
    info->height = j->cinfo.image_height;
    info->components = j->cinfo.num_components;
    info->precision = j->cinfo.data_precision;
    info->adobe_marker = j->cinfo.saw_Adobe_marker;
    info->adobe_transform = j->cinfo.Adobe_transform;
    return HIVG_JPEG_OK;
}

int hivg_jpeg_decode(hivg_jpeg *j, uint8_t *out, size_t out_size) {
    if (setjmp(j->escape)) {
        return status_after_error(j);
    }
    struct jpeg_decompress_struct *c = &j->cinfo;
    // Pillow's JpegDecode.c asks for L, RGB or CMYK by the component count and trusts libjpeg's guess of
    // the stored colour space (JFIF/Adobe markers, component ids); everything else stays at the library
    // defaults: JDCT_ISLOW, fancy upsampling, scale 1/1, no quantization.
    switch (c->num_components) {
    case 1: c->out_color_space = JCS_GRAYSCALE; break;
    case 3: c->out_color_space = JCS_RGB; break;
    case 4: c->out_color_space = JCS_CMYK; break;
    default:
        strcpy(j->message, "unsupported number of components");
        return HIVG_JPEG_ERROR;
    }
    c->dct_method = JDCT_ISLOW;
    c->do_fancy_upsampling = TRUE;
    c->scale_num = 1;
    c->scale_denom = 1;
    jpeg_start_decompress(c);
    size_t row_bytes = (size_t)c->output_width * (size_t)c->output_components;
    if (c->output_width != c->image_width || c->output_height != c->image_height
        || (size_t)c->output_height > out_size / (row_bytes ? row_bytes : 1)) {
        strcpy(j->message, "output buffer does not match the frame");
        jpeg_abort_decompress(c);
        return HIVG_JPEG_ERROR;
    }
    while (c->output_scanline < c->output_height) {
        JSAMPROW row = out + (size_t)c->output_scanline * row_bytes;
        if (jpeg_read_scanlines(c, &row, 1) != 1) {
            break;  // cannot happen with a memory source (it never suspends); the check below catches it
        }
        if (j->truncated) {
            break;
        }
    }
    if (j->truncated || c->output_scanline < c->output_height) {
        strcpy(j->message, "premature end of JPEG file");
        jpeg_abort_decompress(c);
        return HIVG_JPEG_TRUNCATED;
    }
    jpeg_finish_decompress(c);
    if (j->truncated) {
        // Every row decoded but no EOI marker: Pillow refuses this too (it asks for more data).
        strcpy(j->message, "premature end of JPEG file");
        return HIVG_JPEG_TRUNCATED;
    }
    return HIVG_JPEG_OK;
}

const char *hivg_jpeg_message(const hivg_jpeg *j) { return j->message; }

void hivg_jpeg_destroy(hivg_jpeg *j) {
    if (!j) {
        return;
    }
    if (j->created) {
        jpeg_destroy_decompress(&j->cinfo);
    }
    free(j);
}
