// The prelude clang compiles the kernels with for the PTX check
// (clang -x cuda --cuda-device-only -nocudainc -nocudalib): without the
// CUDA headers, the keywords and built-in variables come from clang's own
// headers and attributes.
#include <__clang_cuda_builtin_vars.h>
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __attribute__((always_inline))
#define __syncthreads() __nvvm_bar_sync(0)
#define KERNEL extern "C" __global__ void
#define cc_sqrt(x) __builtin_sqrt(x)
