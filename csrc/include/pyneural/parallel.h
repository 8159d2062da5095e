// Thread count for every kernel; kernels pass it to OpenMP explicitly (num_threads clause),
// so a setting made from one Python thread holds for calls made from any other.
#pragma once
#include <cstdint>

namespace pyneural {

int num_threads();
void set_num_threads(int n);
bool has_openmp();

// Threads worth using for `flops` floating-point operations: small problems stay on one thread.
int threads_for(double flops);

}  // namespace pyneural
