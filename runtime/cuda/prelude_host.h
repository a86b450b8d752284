// The prelude that compiles the kernels for the host emulator: the same
// source, run on the CPU with each simulated GPU thread executed in turn.
//
// blockIdx, threadIdx, blockDim and gridDim are globals the launcher sets
// before running each thread (external linkage, so the compiler reloads
// them after every call that might switch threads). A kernel without
// __syncthreads runs its threads one after another as plain calls. A
// kernel with __syncthreads runs each thread of a block as a fiber
// (ucontext): __syncthreads switches back to the launcher, which resumes
// the next thread, and a block moves past a barrier only when all of its
// threads have reached it. A missing barrier therefore shows up as a
// thread reading shared memory its peers have not written yet, which the
// parity tests catch. __shared__ arrays are function statics: blocks run
// one at a time, so one copy serves them all.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ucontext.h>
#include <utility>

struct uint3 { unsigned x, y, z; };
struct dim3 { unsigned x, y, z; };
uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

#define __global__
#define __device__ static inline
#define __forceinline__
#define __shared__ static
#define __restrict__ __restrict
#define KERNEL extern "C" void
#define cc_sqrt(x) std::sqrt(x)

namespace emu {
enum { running, waiting, done };
const size_t stack_bytes = 64 << 10;
const unsigned max_threads = 1024;
ucontext_t sched;
ucontext_t fibers[max_threads];
char* stacks[max_threads];
int state[max_threads];
bool fibered;
void (*body)(void**);
void** body_args;

void fiber_main() {
	body(body_args);
	unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
	state[t] = done;
}

void set_thread(unsigned t) {
	threadIdx.x = t % blockDim.x;
	threadIdx.y = (t / blockDim.x) % blockDim.y;
	threadIdx.z = t / (blockDim.x * blockDim.y);
}

// run_block runs one block's threads as fibers until all are done.
int run_block(unsigned nt) {
	for (unsigned t = 0; t < nt; t++) {
		if (!stacks[t] && !(stacks[t] = (char*)malloc(stack_bytes))) return 2;
		getcontext(&fibers[t]);
		fibers[t].uc_stack.ss_sp = stacks[t];
		fibers[t].uc_stack.ss_size = stack_bytes;
		fibers[t].uc_link = &sched;
		makecontext(&fibers[t], fiber_main, 0);
		state[t] = running;
	}
	for (;;) {
		unsigned left = 0;
		for (unsigned t = 0; t < nt; t++) {
			if (state[t] == done) continue;
			set_thread(t);
			state[t] = running;
			swapcontext(&sched, &fibers[t]);
			if (state[t] != done) left++;
		}
		if (left == 0) return 0;
	}
}
}  // namespace emu

void __syncthreads() {
	if (!emu::fibered) return;
	unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
	emu::state[t] = emu::waiting;
	swapcontext(&emu::fibers[t], &emu::sched);
}

// Single-threaded, so an atomic add is an add.
static inline float atomicAdd(float* p, float v) { float old = *p; *p = old + v; return old; }

// launch runs a kernel on dims = {grid x, y, z, block x, y, z}; it
// returns 0, or 1 for a block too large, 2 when out of memory.
static int launch(const unsigned* dims, void (*f)(void**), void** args, bool sync) {
	gridDim = dim3{dims[0], dims[1], dims[2]};
	blockDim = dim3{dims[3], dims[4], dims[5]};
	unsigned nt = dims[3] * dims[4] * dims[5];
	if (nt > emu::max_threads) return 1;
	emu::fibered = sync;
	emu::body = f;
	emu::body_args = args;
	for (unsigned bz = 0; bz < dims[2]; bz++)
		for (unsigned by = 0; by < dims[1]; by++)
			for (unsigned bx = 0; bx < dims[0]; bx++) {
				blockIdx = uint3{bx, by, bz};
				if (sync) {
					int rc = emu::run_block(nt);
					if (rc) return rc;
					continue;
				}
				for (unsigned t = 0; t < nt; t++) {
					emu::set_thread(t);
					f(args);
				}
			}
	return 0;
}

// call unpacks the argument slots into the kernel's parameters.
template <typename... P, size_t... I>
static void call_slots(void (*k)(P...), void** a, std::index_sequence<I...>) { k(*(P*)a[I]...); }
template <typename... P>
static void call(void (*k)(P...), void** a) { call_slots(k, a, std::index_sequence_for<P...>{}); }
template <typename... P>
static int nargs(void (*)(P...)) { return sizeof...(P); }

// Memory and copies for the Go side.
extern "C" void* cellc_alloc(size_t n) { return calloc(n ? n : 1, 1); }
extern "C" void cellc_free(void* p) { free(p); }
extern "C" void cellc_copy(void* dst, const void* src, size_t n) { memcpy(dst, src, n); }
extern "C" void cellc_zero(void* p, size_t n) { memset(p, 0, n); }

// cellc_sgemm is cublasSgemmStridedBatched's semantics on column-major
// matrices, so the emulator checks the backend's GEMM arguments exactly
// as cuBLAS will read them.
extern "C" void cellc_sgemm(int ta, int tb, int m, int n, int k, float alpha,
		const float* A, int lda, long long sa, const float* B, int ldb, long long sb,
		float beta, float* C, int ldc, long long sc, int batch) {
	for (int b = 0; b < batch; b++) {
		const float* a = A + b * sa;
		const float* bb = B + b * sb;
		float* c = C + b * sc;
		for (int j = 0; j < n; j++)
			for (int i = 0; i < m; i++) {
				float s = 0;
				for (int p = 0; p < k; p++) {
					float av = ta ? a[p + (long long)i * lda] : a[i + (long long)p * lda];
					float bv = tb ? bb[j + (long long)p * ldb] : bb[p + (long long)j * ldb];
					s += av * bv;
				}
				float* cv = &c[i + (long long)j * ldc];
				*cv = beta == 0 ? alpha * s : alpha * s + beta * *cv;
			}
	}
}
