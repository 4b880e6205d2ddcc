// Why C: C23 #embed puts a file's bytes into the binary at compile time, resolved relative to this
// file. A SwiftPM resource bundle would have to be found again at run time next to the executable
// (and its generated accessor traps when it is missing); an embedded array works the same for
// `swift build`, the tests and the static release binary, and the bytes are checked by a test
// against their pinned SHA-256 (Tests/HiVGKitTests/TokenizerDataTests.swift).
#include "tokenizer_data.h"

#pragma clang diagnostic ignored "-Wc23-extensions"

static const unsigned char clip_bpe_gz[] = {
#embed "data/bpe_simple_vocab_16e6.txt.gz"
};

static const unsigned char html5_entities_json[] = {
#embed "data/html5_entities.json"
};

const unsigned char *hivg_clip_bpe_gz(size_t *size) {
    *size = sizeof(clip_bpe_gz);
    return clip_bpe_gz;
}

const unsigned char *hivg_html5_entities_json(size_t *size) {
    *size = sizeof(html5_entities_json);
    return html5_entities_json;
}
