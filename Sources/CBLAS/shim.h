#pragma once
// Debian's libopenblas-dev puts cblas.h under the openblas-pthread include dir (pkg-config adds it).
#include <cblas.h>
// The pthread build reads OPENBLAS_NUM_THREADS once; these let the engine set and report it explicitly.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
