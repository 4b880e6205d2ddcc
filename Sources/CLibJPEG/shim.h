// libjpeg-turbo's libjpeg API (Debian libjpeg62-turbo-dev): decodes JPEG for HiVGPipeline. Only the
// CJPEG shim includes it; Swift never sees these types. jpeglib.h needs stdio.h (FILE, size_t) first.
#include <stdio.h>
#include <jpeglib.h>
#include <jerror.h>
