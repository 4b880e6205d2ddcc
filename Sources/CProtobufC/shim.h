// protobuf-c encodes and decodes the native format's manifest.
#include <protobuf-c/protobuf-c.h>
