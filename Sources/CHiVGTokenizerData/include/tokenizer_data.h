#ifndef HIVG_TOKENIZER_DATA_H
#define HIVG_TOKENIZER_DATA_H

#include <stddef.h>

// The tokenizer's data files, compiled into the binary (see tokenizer_data.c). Read-only; the Swift
// side (HiVGPipeline/Tokenizer/EmbeddedData.swift) copies nothing it does not need.

// (Functions, not the arrays: Swift cannot import arrays of unknown size.)

/// bpe_simple_vocab_16e6.txt.gz exactly as OpenAI CLIP ships it (gzip, MIT); sets *size.
const unsigned char *hivg_clip_bpe_gz(size_t *size);

/// html5_entities.json: Python 3.11's html.entities.html5 table as a JSON object (name -> text).
const unsigned char *hivg_html5_entities_json(size_t *size);

#endif
