// libpng 1.6 (Debian libpng-dev): decodes PNG for HiVGPipeline. Only the CPNG shim includes it; Swift
// never sees these types.
#include <png.h>
