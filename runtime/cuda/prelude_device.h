// The prelude NVRTC compiles the kernels with: NVRTC defines the CUDA
// keywords and built-in variables itself, so only the helpers the
// kernels share with the other two preludes (prelude_clang.h for the PTX
// check, prelude_host.h for the emulator) are here.
#define KERNEL extern "C" __global__ void
#define cc_sqrt(x) sqrt(x)
