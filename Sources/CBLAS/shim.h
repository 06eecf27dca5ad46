#pragma once
// Debian's libopenblas-dev puts cblas.h under the openblas-pthread include dir (pkg-config adds it).
#include <cblas.h>
// The pthread build reads OPENBLAS_NUM_THREADS once; these let the engine set and report it explicitly.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);

// A spin-wait hint (x86 PAUSE): a spinning thread then leaves the core's execution units to its SMT sibling
// (on a VM, possibly the engine's other thread) and saves power. The engine's worker pool spins between loops.
static inline void spinebench_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
