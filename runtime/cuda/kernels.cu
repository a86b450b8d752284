// cellc's GPU kernels: forward and backward for every operation a plan
// can contain, float32 NCHW. One source serves three compilers: NVRTC on
// the GPU (prelude_device.h), clang's PTX check (prelude_clang.h) and the
// host emulator the tests run (prelude_host.h), so it keeps to the part of
// CUDA C++ all three share: KERNEL functions, the built-in index
// variables, __shared__ arrays and __syncthreads. No warp intrinsics and
// no atomics: every sum is a fixed-order loop or block reduction, so
// results are deterministic run to run, like the CPU backend's.
//
// A tensor argument is a base pointer already offset to image 0's values
// and the stride between images (xs, ys, ...): concat inputs are channel
// slices of a larger buffer. acc != 0 adds to the destination instead of
// overwriting it (an input with several readers sums their gradients).
// 1x1 and dense convolutions' products run on cuBLAS, not here.
//
// Grid-stride loops: a kernel is correct for any grid size, and the
// launcher caps the grid.

#define LOOP(i, total) for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += blockDim.x * gridDim.x)
#define REDUCE_THREADS 256

// block_sum returns the sum of every thread's v to all threads of the
// block: a tree over part, a __shared__ array of blockDim.x ≤
// REDUCE_THREADS values (blockDim.x a power of two). Every thread of the
// block must call it; part may be reused after it returns. (A kernel
// that calls it synchronises: the emulator runs its threads as fibers.)
__device__ double block_sum(double* part, double v) {
	part[threadIdx.x] = v;
	__syncthreads();
	for (int m = blockDim.x / 2; m > 0; m /= 2) {
		if ((int)threadIdx.x < m) part[threadIdx.x] += part[threadIdx.x + m];
		__syncthreads();
	}
	double sum = part[0];
	__syncthreads();
	return sum;
}

// ---- elementwise, over n images of e values each -------------------------

KERNEL ew_relu(int n, int e, const float* __restrict__ x, int xs, float* __restrict__ y, int ys) {
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		float v = x[b * xs + j];
		y[b * ys + j] = v > 0 ? v : 0;
	}
}

// ew_relu_grad masks by the ReLU's output, as the CPU backend does.
KERNEL ew_relu_grad(int n, int e, const float* __restrict__ y, int ys, const float* __restrict__ dy, int dys, float* dx, int dxs, int acc) {
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		float g = y[b * ys + j] > 0 ? dy[b * dys + j] : 0;
		float* d = &dx[b * dxs + j];
		*d = acc ? *d + g : g;
	}
}

// ew_copy writes (or adds) x into y; with scale != null each image is
// multiplied by its scale (drop path), with mask != null each value by
// its mask value (dropout; the mask is dense, n*e).
KERNEL ew_copy(int n, int e, const float* __restrict__ x, int xs, const float* __restrict__ scale, const float* __restrict__ mask, float* y, int ys, int acc) {
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		float v = x[b * xs + j];
		if (scale) v *= scale[b];
		if (mask) v *= mask[i];
		float* d = &y[b * ys + j];
		*d = acc ? *d + v : v;
	}
}

KERNEL ew_add2(int n, int e, const float* __restrict__ a, int as, const float* __restrict__ c, int cs, float* __restrict__ y, int ys) {
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		y[b * ys + j] = a[b * as + j] + c[b * cs + j];
	}
}

KERNEL ew_zero(int n, int e, float* y, int ys) {
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		y[b * ys + j] = 0;
	}
}

// ---- factorized reduction's shift and global average pool ---------------

// shift: y[c,h,w] = x[c,h+1,w+1], zero in the last row and column.
KERNEL shift_fwd(int n, int C, int H, int W, const float* __restrict__ x, int xs, float* __restrict__ y, int ys) {
	int e = C * H * W;
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		int w = j % W, h = (j / W) % H;
		y[b * ys + j] = (h + 1 < H && w + 1 < W) ? x[b * xs + j + W + 1] : 0;
	}
}

KERNEL shift_grad(int n, int C, int H, int W, const float* __restrict__ dy, int dys, float* dx, int dxs, int acc) {
	int e = C * H * W;
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		int w = j % W, h = (j / W) % H;
		float g = (h > 0 && w > 0) ? dy[b * dys + j - W - 1] : 0;
		float* d = &dx[b * dxs + j];
		*d = acc ? *d + g : g;
	}
}

// gap_fwd: one thread per image and channel sums its plane in double.
KERNEL gap_fwd(int n, int C, int HW, const float* __restrict__ x, int xs, float* __restrict__ y, int ys) {
	LOOP(i, n * C) {
		int b = i / C, c = i - b * C;
		const float* p = x + b * xs + c * HW;
		double s = 0;
		for (int k = 0; k < HW; k++) s += p[k];
		y[b * ys + c] = (float)(s / HW);
	}
}

KERNEL gap_grad(int n, int C, int HW, const float* __restrict__ dy, int dys, float* dx, int dxs, int acc) {
	int e = C * HW;
	float inv = 1.0f / HW;
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		float g = dy[b * dys + j / HW] * inv;
		float* d = &dx[b * dxs + j];
		*d = acc ? *d + g : g;
	}
}

// ---- depthwise convolution (channel multiplier 1), TF SAME or VALID -----
// pt, pl: padding before (top, left); the rest of SAME's padding is after.

// tap_out is the output row (or column) whose tap k reads input position
// pos, for stride s, dilation d and padding before pad, or -1 when none
// of the O outputs does.
__device__ int tap_out(int pos, int pad, int k, int d, int s, int O) {
	int t = pos + pad - k * d;
	if (t < 0 || t % s) return -1;
	return t / s < O ? t / s : -1;
}

KERNEL dw_fwd(int n, int C, int H, int W, int OH, int OW, int KH, int KW, int s, int d, int pt, int pl,
		const float* __restrict__ x, int xs, int relu, const float* __restrict__ w, const float* __restrict__ bias, float* __restrict__ y, int ys) {
	int e = C * OH * OW;
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		int ow = j % OW, oh = (j / OW) % OH, c = j / (OH * OW);
		const float* xp = x + b * xs + c * H * W;
		const float* wp = w + c * KH * KW;
		float acc = 0;
		for (int kh = 0; kh < KH; kh++) {
			int h = oh * s - pt + kh * d;
			if (h < 0 || h >= H) continue;
			for (int kw = 0; kw < KW; kw++) {
				int ww = ow * s - pl + kw * d;
				if (ww < 0 || ww >= W) continue;
				float v = xp[h * W + ww];
				if (relu && v < 0) v = 0;
				acc += v * wp[kh * KW + kw];
			}
		}
		if (bias) acc += bias[c];
		y[b * ys + j] = acc;
	}
}

// dw_grad_x gathers, for each input pixel, the output pixels it fed;
// with relu (a fused ReLU before the conv) through the mask x > 0.
KERNEL dw_grad_x(int n, int C, int H, int W, int OH, int OW, int KH, int KW, int s, int d, int pt, int pl,
		const float* __restrict__ dy, int dys, const float* __restrict__ w, const float* __restrict__ x, int xs, int relu, float* dx, int dxs, int acc) {
	int e = C * H * W;
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		int ww = j % W, h = (j / W) % H, c = j / (H * W);
		const float* gp = dy + b * dys + c * OH * OW;
		const float* wp = w + c * KH * KW;
		float g = 0;
		for (int kh = 0; kh < KH; kh++) {
			int oh = tap_out(h, pt, kh, d, s, OH);
			if (oh < 0) continue;
			for (int kw = 0; kw < KW; kw++) {
				int ow = tap_out(ww, pl, kw, d, s, OW);
				if (ow < 0) continue;
				g += gp[oh * OW + ow] * wp[kh * KW + kw];
			}
		}
		if (relu && !(x[b * xs + j] > 0)) g = 0;
		float* p = &dx[b * dxs + j];
		*p = acc ? *p + g : g;
	}
}

// dw_grad_w: one block per (channel, tap) reduces over images and output
// pixels, and adds the sum to dw.
KERNEL dw_grad_w(int n, int C, int H, int W, int OH, int OW, int KH, int KW, int s, int d, int pt, int pl,
		const float* __restrict__ x, int xs, int relu, const float* __restrict__ dy, int dys, float* dw) {
	__shared__ double part[REDUCE_THREADS];
	for (int q = blockIdx.x; q < C * KH * KW; q += gridDim.x) {
		int c = q / (KH * KW), kh = (q / KW) % KH, kw = q % KW;
		int P = OH * OW;
		double sum = 0;
		for (int k = threadIdx.x; k < n * P; k += blockDim.x) {
			int b = k / P, p = k - b * P;
			int oh = p / OW, ow = p - oh * OW;
			int h = oh * s - pt + kh * d, ww = ow * s - pl + kw * d;
			if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
			float v = x[b * xs + c * H * W + h * W + ww];
			if (relu && v < 0) v = 0;
			sum += (double)v * dy[b * dys + c * P + p];
		}
		sum = block_sum(part, sum);
		if (threadIdx.x == 0) dw[q] += (float)sum;
	}
}

// ---- dense convolution through im2col and cuBLAS -------------------------
// col holds, per image, the [C*KH*KW][OH*OW] matrix of input taps.

KERNEL im2col(int n, int C, int H, int W, int OH, int OW, int KH, int KW, int s, int d, int pt, int pl,
		const float* __restrict__ x, int xs, int relu, float* __restrict__ col) {
	int P = OH * OW, e = C * KH * KW * P;
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		int p = j % P, r = j / P;
		int kw = r % KW, kh = (r / KW) % KH, c = r / (KH * KW);
		int oh = p / OW, ow = p - oh * OW;
		int h = oh * s - pt + kh * d, w = ow * s - pl + kw * d;
		float v = (h >= 0 && h < H && w >= 0 && w < W) ? x[b * xs + (c * H + h) * W + w] : 0;
		col[i] = relu && v < 0 ? 0 : v;
	}
}

// col2im gathers, for each input pixel, its taps' gradients (through
// the mask x > 0 of a fused ReLU when relu).
KERNEL col2im(int n, int C, int H, int W, int OH, int OW, int KH, int KW, int s, int d, int pt, int pl,
		const float* __restrict__ col, const float* __restrict__ x, int xs, int relu, float* dx, int dxs, int acc) {
	int e = C * H * W, P = OH * OW, ce = C * KH * KW * P;
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		int w = j % W, h = (j / W) % H, c = j / (H * W);
		const float* cp = col + b * ce + c * KH * KW * P;
		float g = 0;
		for (int kh = 0; kh < KH; kh++) {
			int oh = tap_out(h, pt, kh, d, s, OH);
			if (oh < 0) continue;
			for (int kw = 0; kw < KW; kw++) {
				int ow = tap_out(w, pl, kw, d, s, OW);
				if (ow < 0) continue;
				g += cp[(kh * KW + kw) * P + oh * OW + ow];
			}
		}
		if (relu && !(x[b * xs + j] > 0)) g = 0;
		float* p = &dx[b * dxs + j];
		*p = acc ? *p + g : g;
	}
}

// bias_add: y[b, c, p] += bias[c] over P pixels per channel.
KERNEL bias_add(int n, int C, int P, const float* __restrict__ bias, float* y, int ys) {
	int e = C * P;
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		y[b * ys + j] += bias[j / P];
	}
}

// chan_sum_add: out[c] += the sum of x[b, c, :] over all images (bias
// gradients), one block per channel.
KERNEL chan_sum_add(int n, int C, int P, const float* __restrict__ x, int xs, float* out) {
	__shared__ double part[REDUCE_THREADS];
	for (int c = blockIdx.x; c < C; c += gridDim.x) {
		double sum = 0;
		for (int k = threadIdx.x; k < n * P; k += blockDim.x) {
			int b = k / P, p = k - b * P;
			sum += x[b * xs + c * P + p];
		}
		sum = block_sum(part, sum);
		if (threadIdx.x == 0) out[c] += (float)sum;
	}
}

// sum_rows_add: out[j] += sum over r < rows of x[r*e + j] (per-image
// weight-gradient partials from a batched GEMM, summed in image order).
KERNEL sum_rows_add(int rows, int e, const float* __restrict__ x, float* out) {
	LOOP(j, e) {
		float s = 0;
		for (int r = 0; r < rows; r++) s += x[(long long)r * e + j];
		out[j] += s;
	}
}

// ---- pools: TF SAME, padding excluded from averages; max's gradient goes
// to the first maximum of the window in row-major order -----------------

KERNEL pool_fwd(int n, int C, int H, int W, int OH, int OW, int KH, int KW, int s, int pt, int pl, int ismax,
		const float* __restrict__ x, int xs, float* __restrict__ y, int ys) {
	int e = C * OH * OW;
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		int ow = j % OW, oh = (j / OW) % OH, c = j / (OH * OW);
		int h0 = oh * s - pt, w0 = ow * s - pl;
		int h1 = h0 + KH < H ? h0 + KH : H, w1 = w0 + KW < W ? w0 + KW : W;
		if (h0 < 0) h0 = 0;
		if (w0 < 0) w0 = 0;
		const float* xp = x + b * xs + c * H * W;
		float r = ismax ? xp[h0 * W + w0] : 0;
		for (int h = h0; h < h1; h++)
			for (int w = w0; w < w1; w++) {
				float v = xp[h * W + w];
				if (ismax) r = v > r ? v : r;
				else r += v;
			}
		y[b * ys + j] = ismax ? r : r / (float)((h1 - h0) * (w1 - w0));
	}
}

KERNEL pool_grad(int n, int C, int H, int W, int OH, int OW, int KH, int KW, int s, int pt, int pl, int ismax,
		const float* __restrict__ x, int xs, const float* __restrict__ dy, int dys, float* dx, int dxs, int acc) {
	int e = C * H * W;
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e;
		int w = j % W, h = (j / W) % H, c = j / (H * W);
		const float* xp = x + b * xs + c * H * W;
		const float* gp = dy + b * dys + c * OH * OW;
		// Output rows and columns whose windows contain (h, w).
		int oh0 = h + pt - KH + 1, ow0 = w + pl - KW + 1;
		oh0 = oh0 > 0 ? (oh0 + s - 1) / s : 0;
		ow0 = ow0 > 0 ? (ow0 + s - 1) / s : 0;
		float g = 0;
		for (int oh = oh0; oh < OH && oh * s - pt <= h; oh++)
			for (int ow = ow0; ow < OW && ow * s - pl <= w; ow++) {
				int h0 = oh * s - pt, w0 = ow * s - pl;
				int h1 = h0 + KH < H ? h0 + KH : H, w1 = w0 + KW < W ? w0 + KW : W;
				if (h0 < 0) h0 = 0;
				if (w0 < 0) w0 = 0;
				if (!ismax) {
					g += gp[oh * OW + ow] / (float)((h1 - h0) * (w1 - w0));
					continue;
				}
				int arg = h0 * W + w0;
				float m = xp[arg];
				for (int hh = h0; hh < h1; hh++)
					for (int ww = w0; ww < w1; ww++)
						if (xp[hh * W + ww] > m) m = xp[hh * W + ww], arg = hh * W + ww;
				if (arg == h * W + w) g += gp[oh * OW + ow];
			}
		float* p = &dx[b * dxs + j];
		*p = acc ? *p + g : g;
	}
}

// ---- normalisation ------------------------------------------------------
// Statistics are reduced in double, as the CPU backend's are. The
// per-channel (batch norm) or per-image-and-channel (layer and instance
// norm) coefficients then feed two generic elementwise kernels:
//   forward   y  = (x - m)·a + beta[c]
//   backward  dx = k·dy + b·(x - m) + off
// where each of m, a, k, b, off is indexed [img*sn + c*sc] with strides
// that say whether it varies by image, by channel or both.

// bn_stats: one block per channel; mean and biased variance over n
// images and HW pixels, shifted by the channel's first value.
KERNEL bn_stats(int n, int C, int HW, const float* __restrict__ x, int xs, float* mean, float* var) {
	__shared__ double part[REDUCE_THREADS];
	for (int c = blockIdx.x; c < C; c += gridDim.x) {
		float shift = x[c * HW];
		double s = 0, q = 0;
		for (int k = threadIdx.x; k < n * HW; k += blockDim.x) {
			int b = k / HW, p = k - b * HW;
			double v = (double)x[b * xs + c * HW + p] - shift;
			s += v;
			q += v * v;
		}
		s = block_sum(part, s);
		q = block_sum(part, q);
		if (threadIdx.x == 0) {
			double cnt = (double)n * HW, m = s / cnt;
			double v = q / cnt - m * m;
			mean[c] = (float)(shift + m);
			var[c] = (float)(v > 0 ? v : 0);
		}
	}
}

// bn_moving: TF's assign_moving_average, moving -= (moving - batch)·(1-decay).
KERNEL bn_moving(int C, float* moving, const float* __restrict__ batch, float decay) {
	LOOP(c, C) { moving[c] = moving[c] - (moving[c] - batch[c]) * (1 - decay); }
}

// bn_scale: a[c] = gamma[c] / sqrt(var[c] + eps), in double.
KERNEL bn_scale(int C, const float* __restrict__ var, const float* __restrict__ gamma, float eps, float* a) {
	LOOP(c, C) { a[c] = (float)((double)gamma[c] / cc_sqrt((double)var[c] + (double)eps)); }
}

// affine_fwd may run in place (x == y: a training batch norm after a
// conv), so x and y are not __restrict__.
KERNEL affine_fwd(int n, int C, int HW, const float* x, int xs,
		const float* __restrict__ m, int msn, int msc, const float* __restrict__ a, int asn, int asc,
		const float* __restrict__ beta, float* y, int ys) {
	int e = C * HW;
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e, c = j / HW;
		y[b * ys + j] = (x[b * xs + j] - m[b * msn + c * msc]) * a[b * asn + c * asc] + beta[c];
	}
}

KERNEL affine_grad(int n, int C, int HW, const float* __restrict__ x, int xs, const float* __restrict__ dy, int dys,
		const float* __restrict__ m, int msn, int msc, const float* __restrict__ k, const float* __restrict__ bb,
		const float* __restrict__ off, int csn, float* dx, int dxs, int acc) {
	int e = C * HW;
	LOOP(i, n * e) {
		int b = i / e, j = i - b * e, c = j / HW;
		int q = b * csn + c;
		float g = k[q] * dy[b * dys + j] + bb[q] * (x[b * xs + j] - m[b * msn + c * msc]) + off[q];
		float* p = &dx[b * dxs + j];
		*p = acc ? *p + g : g;
	}
}

// dy_dev: one block per (image, channel) when per_image, else per
// channel over all images: sd = Σdy and sdx = Σdy·(x - m), m indexed as
// in affine_grad.
KERNEL dy_dev(int n, int C, int HW, int per_image, const float* __restrict__ x, int xs, const float* __restrict__ dy, int dys,
		const float* __restrict__ m, int msn, int msc, double* sd, double* sdx) {
	__shared__ double part[REDUCE_THREADS];
	int groups = per_image ? n * C : C;
	for (int g = blockIdx.x; g < groups; g += gridDim.x) {
		int c = per_image ? g % C : g;
		int b0 = per_image ? g / C : 0, nb = per_image ? 1 : n;
		double s = 0, t = 0;
		for (int k = threadIdx.x; k < nb * HW; k += blockDim.x) {
			int b = b0 + k / HW, p = k % HW;
			double gy = dy[b * dys + c * HW + p];
			s += gy;
			t += gy * ((double)x[b * xs + c * HW + p] - m[b * msn + c * msc]);
		}
		s = block_sum(part, s);
		t = block_sum(part, t);
		if (threadIdx.x == 0) {
			sd[g] = s;
			sdx[g] = t;
		}
	}
}

// bn_grad_coef: batch norm's backward coefficients from the batch sums,
// and its parameter gradients dgamma += Σdy·x̂, dbeta += Σdy. The sums
// are over x - mean, or for a batch norm computed in place (from_output)
// over its output y - beta, where x̂ = (y - beta)/gamma; then the
// coefficients apply to y - beta too. A gamma within 1e-12 of zero is
// divided by as ±1e-12, as the CPU backend does.
KERNEL bn_grad_coef(int C, int count, int from_output, const float* __restrict__ var, const float* __restrict__ gamma, float eps,
		const double* __restrict__ sd, const double* __restrict__ sdx, float* dgamma, float* dbeta, float* k, float* bb, float* off) {
	LOOP(c, C) {
		double inv = 1 / cc_sqrt((double)var[c] + (double)eps);
		double g = gamma[c], kk = g * inv;
		double safe = g < 0 ? (g > -1e-12 ? -1e-12 : g) : (g < 1e-12 ? 1e-12 : g);
		float sumDy = (float)sd[c];
		float sumDyXhat = (float)(from_output ? sdx[c] / safe : sdx[c] * inv);
		if (dgamma) dgamma[c] += sumDyXhat;
		if (dbeta) dbeta[c] += sumDy;
		k[c] = (float)kk;
		bb[c] = (float)(from_output ? -kk * (double)sumDyXhat / ((double)count * safe) : -kk * inv * (double)sumDyXhat / count);
		off[c] = (float)(-kk * (double)sumDy / count);
	}
}

// gn_stats: per group (an image for layer norm, an image's channel for
// instance norm) of len values at x + (g / per)·xs + (g % per)·len, the
// mean and 1/sqrt(variance + eps), two passes in double.
KERNEL gn_stats(int groups, int per, int len, const float* __restrict__ x, int xs, float eps, float* mean, float* inv) {
	__shared__ double part[REDUCE_THREADS];
	for (int g = blockIdx.x; g < groups; g += gridDim.x) {
		const float* p = x + (g / per) * xs + (g % per) * len;
		double s = 0;
		for (int k = threadIdx.x; k < len; k += blockDim.x) s += p[k];
		double m = block_sum(part, s) / len;
		float mf = (float)m;
		double v = 0;
		for (int k = threadIdx.x; k < len; k += blockDim.x) {
			double dv = (double)p[k] - m;
			v += dv * dv;
		}
		v = block_sum(part, v);
		if (threadIdx.x == 0) {
			mean[g] = mf;
			inv[g] = (float)(1 / cc_sqrt(v / len + (double)eps));
		}
	}
}

// gn_scale: a[b, c] = gamma[c]·inv[group of (b, c)].
KERNEL gn_scale(int n, int C, int per, const float* __restrict__ gamma, const float* __restrict__ inv, float* a) {
	LOOP(i, n * C) {
		int b = i / C, c = i - b * C;
		a[i] = gamma[c] * inv[per == 1 ? b : i];
	}
}

// gn_grad_coef: layer norm (per == 1) or instance norm (per == C)
// backward coefficients per (image, channel) from the sums of dy_dev
// taken per image and channel; one thread per image, so each image's
// channel sums run in channel order.
KERNEL gn_grad_coef(int n, int C, int HW, int per, const float* __restrict__ gamma, const float* __restrict__ inv,
		const double* __restrict__ sd, const double* __restrict__ sdx, float* k, float* bb, float* off) {
	LOOP(b, n) {
		if (per == 1) {
			double iv = inv[b], g1 = 0, g2 = 0, cnt = (double)C * HW;
			for (int c = 0; c < C; c++) {
				g1 += (double)gamma[c] * sd[b * C + c];
				g2 += (double)gamma[c] * sdx[b * C + c] * iv;
			}
			g1 /= cnt;
			g2 /= cnt;
			for (int c = 0; c < C; c++) {
				k[b * C + c] = gamma[c] * inv[b];
				bb[b * C + c] = (float)(-iv * iv * g2);
				off[b * C + c] = (float)(-iv * g1);
			}
			continue;
		}
		for (int c = 0; c < C; c++) {
			int q = b * C + c;
			double iv = inv[q], kk = (double)gamma[c] * iv;
			k[q] = (float)kk;
			bb[q] = (float)(-kk * iv * sdx[q] * iv / HW);
			off[q] = (float)(-kk * sd[q] / HW);
		}
	}
}

// gn_param_grad: dgamma[c] += Σ_b sdx[b,c]·inv, dbeta[c] += Σ_b sd[b,c],
// summed in image order.
KERNEL gn_param_grad(int n, int C, int per, const float* __restrict__ inv, const double* __restrict__ sd,
		const double* __restrict__ sdx, float* dgamma, float* dbeta) {
	LOOP(c, C) {
		float g = 0, bt = 0;
		for (int b = 0; b < n; b++) {
			int q = b * C + c;
			g += (float)(sdx[q] * (double)inv[per == 1 ? b : q]);
			bt += (float)sd[q];
		}
		dgamma[c] += g;
		dbeta[c] += bt;
	}
}

// ---- the optimiser, on the device's flat parameter array ----------------
// train[j] != 0 marks trainable values, decay[j] != 0 those weight decay
// applies to (conv and dense weights). The sums run in fixed blocks, so
// the norm is the same run to run.

// opt_decay_norm adds weight decay to the gradients and writes each
// block's Σg² over trainable values to part[blockIdx.x].
KERNEL opt_decay_norm(int n, const float* __restrict__ train, const float* __restrict__ decay, const float* __restrict__ w,
		float* g, float wd, double* part) {
	__shared__ double s[REDUCE_THREADS];
	double acc = 0;
	LOOP(j, n) {
		if (train[j] == 0) continue;
		float v = g[j];
		if (decay[j] != 0 && wd > 0) {
			v += wd * w[j];
			g[j] = v;
		}
		acc += (double)v * v;
	}
	acc = block_sum(s, acc);
	if (threadIdx.x == 0) part[blockIdx.x] = acc;
}

// opt_sum adds n partial sums into out[0], in one block.
KERNEL opt_sum(int n, const double* __restrict__ part, double* out) {
	__shared__ double s[REDUCE_THREADS];
	double acc = 0;
	for (int j = threadIdx.x; j < n; j += blockDim.x) acc += part[j];
	acc = block_sum(s, acc);
	if (threadIdx.x == 0) out[0] = acc;
}

// clip_scale is the global-norm clipping factor for squared norm n2.
__device__ float clip_scale(double n2, float clip) {
	double norm = cc_sqrt(n2);
	return clip > 0 && norm > clip ? (float)(clip / norm) : 1.0f;
}

// opt_sgd: TF's MomentumOptimizer, accum = m·accum + g; w -= lr·accum.
KERNEL opt_sgd(int n, const float* __restrict__ train, float* w, const float* __restrict__ g, float* mom,
		const double* __restrict__ norm2, float clip, float lr, float m) {
	float scale = clip_scale(norm2[0], clip);
	LOOP(j, n) {
		if (train[j] == 0) continue;
		float a = m * mom[j] + g[j] * scale;
		mom[j] = a;
		w[j] -= lr * a;
	}
}

// opt_rmsprop: TF's RMSPropOptimizer with momentum.
KERNEL opt_rmsprop(int n, const float* __restrict__ train, float* w, const float* __restrict__ g, float* mom, float* ms,
		const double* __restrict__ norm2, float clip, float lr, float m, float d, float eps) {
	float scale = clip_scale(norm2[0], clip);
	LOOP(j, n) {
		if (train[j] == 0) continue;
		float gj = g[j] * scale;
		float v = d * ms[j] + (1 - d) * gj * gj;
		ms[j] = v;
		float a = m * mom[j] + lr * gj / (float)cc_sqrt((double)(v + eps));
		mom[j] = a;
		w[j] -= a;
	}
}

// opt_ema: ema = d·ema + (1-d)·w over every value.
KERNEL opt_ema(int n, float* ema, const float* __restrict__ w, float d) {
	LOOP(j, n) { ema[j] = d * ema[j] + (1 - d) * w[j]; }
}
