// libzip reads the zip container of torch .pth files (ZIP64, STORED and DEFLATED members).
#include <zip.h>
