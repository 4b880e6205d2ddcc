// OpenBLAS provides sgemm for merges and the forward pass, and LAPACK for SVDs.
#include <cblas.h>
