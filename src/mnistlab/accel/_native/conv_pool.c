/* The first block of most MNIST CNNs, fused: relu(maxpool2x2(conv(x, w) + b)) for a 1-channel input.
 *
 * torch computes it as three ops over a (N, C, H-2, W-2) tensor, 4x larger than the block's output,
 * and max-pooling's backward zero-fills that tensor and scatters into it one element at a time: on a
 * 2-core CPU these took ~30% of a seed-000 CNN step (BENCHMARKS.md). Here each pooled output is
 * computed from its input window directly, the big tensor never exists, and the backward only needs
 * the gradient of the weights and bias (the input is an image, which needs none).
 *
 * Semantics are torch's (mnistlab.accel.conv_pool checks them against it): the first maximum of a window wins
 * ties and receives the gradient; ReLU's gradient is zero where the output is zero; a NaN or inf in a
 * window makes the output NaN. Windows are compared before rounding to bf16, which can only change
 * the winner between values that round alike.
 *
 * Layouts: x (N, H, W) float; w (K, C) float, K = kh * kw; b (C) float; out and g (N, Ho, Wo, C), i.e.
 * channels-last, float or bf16 (uint16); win (N, Ho, Wo, C) uint8: the winning window position 0-3,
 * or 255 where the output is zero. C must be a multiple of 16. Built by mnistlab.accel.conv_pool with
 * -O3 -march=native -fopenmp; torch's own OpenMP runtime runs the threads.
 */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#define B 16  /* channels per vector */

typedef float vf __attribute__((vector_size(64)));
typedef uint32_t vu __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
typedef uint16_t vh __attribute__((vector_size(32)));
typedef uint8_t vb __attribute__((vector_size(16)));

static inline vf load_f(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void store_f(float *p, vf v) { memcpy(p, &v, sizeof v); }
static inline vf load_bf(const uint16_t *p) { vh h; memcpy(&h, p, sizeof h); return (vf)(__builtin_convertvector(h, vu) << 16); }
static inline vf sel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }

/* Round to the nearest bf16, ties to even (as torch's float -> bfloat16); a NaN stays a quiet NaN. */
static inline vh to_bf(vf f) {
    vu u = (vu)f;
    vu r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    vu nan = (vu)((u & 0x7fffffffu) > 0x7f800000u);
    r = (r & ~nan) | (((u >> 16) | 0x40u) & nan);
    return __builtin_convertvector(r, vh);
}

void conv_pool_relu_forward(const float *x, const float *w, const float *b, void *out, uint8_t *win,
                            int N, int H, int W, int kh, int kw, int C, int bf16, int threads) {
    const int Ho = (H - kh + 1) / 2, Wo = (W - kw + 1) / 2;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * H * W;
        for (int i = 0; i < Ho; i++) for (int j = 0; j < Wo; j++) {
            const size_t o = (((size_t)n * Ho + i) * Wo + j) * C;
            for (int c = 0; c < C; c += B) {
                /* the four convolution outputs under one pooling window, as four independent sums */
                vf a0 = load_f(b + c), a1 = a0, a2 = a0, a3 = a0;
                for (int ky = 0; ky < kh; ky++) {
                    const float *xr = xn + (2 * i + ky) * W + 2 * j;
                    for (int kx = 0; kx < kw; kx++) {
                        const vf wk = load_f(w + (ky * kw + kx) * C + c);
                        a0 += xr[kx] * wk; a1 += xr[kx + 1] * wk; a2 += xr[W + kx] * wk; a3 += xr[W + kx + 1] * wk;
                    }
                }
                vf best = a0; vi at = {0}, u;
                u = a1 > best; best = sel(u, a1, best); at = (u & 1) | (~u & at);
                u = a2 > best; best = sel(u, a2, best); at = (u & 2) | (~u & at);
                u = a3 > best; best = sel(u, a3, best); at = (u & 3) | (~u & at);
                const vi live = best > 0.0f;
                best = sel(live, best, (vf){0}) + 0.0f * (a0 + a1 + a2 + a3);  /* + NaN if any is NaN or inf */
                if (bf16) { vh h = to_bf(best); memcpy((uint16_t *)out + o + c, &h, sizeof h); }
                else store_f((float *)out + o + c, best);
                vb at8 = __builtin_convertvector((live & at) | (~live & 255), vb);
                memcpy(win + o + c, &at8, sizeof at8);
            }
        }
    }
}

/* Adds images n0..n1-1's weight and bias gradients into gw (K, C) and gb (C). */
static void backward_part(const float *x, const void *g, const uint8_t *win, float *gw, float *gb,
                          int n0, int n1, int H, int W, int kh, int kw, int C, int bf16) {
    const int Ho = (H - kh + 1) / 2, Wo = (W - kw + 1) / 2;
    for (int n = n0; n < n1; n++) {
        const float *xn = x + (size_t)n * H * W;
        for (int i = 0; i < Ho; i++) for (int j = 0; j < Wo; j++) {
            const size_t o = (((size_t)n * Ho + i) * Wo + j) * C;
            for (int c = 0; c < C; c += B) {
                vb at8; memcpy(&at8, win + o + c, sizeof at8);
                const vi at = __builtin_convertvector(at8, vi);
                const vf go = bf16 ? load_bf((const uint16_t *)g + o + c) : load_f((const float *)g + o + c);
                const vf gv = sel(at != 255, go, (vf){0});
                /* the gradient reaches only the window's winner: split it by window position */
                const vf g0 = sel(at == 0, gv, (vf){0}), g1 = sel(at == 1, gv, (vf){0});
                const vf g2 = sel(at == 2, gv, (vf){0}), g3 = sel(at == 3, gv, (vf){0});
                store_f(gb + c, load_f(gb + c) + gv);
                for (int ky = 0; ky < kh; ky++) {
                    const float *xr = xn + (2 * i + ky) * W + 2 * j;
                    for (int kx = 0; kx < kw; kx++) {
                        float *acc = gw + (ky * kw + kx) * C + c;
                        store_f(acc, load_f(acc) + ((xr[kx] * g0 + xr[kx + 1] * g1) + (xr[W + kx] * g2 + xr[W + kx + 1] * g3)));
                    }
                }
            }
        }
    }
}

/* gw (K, C) and gb (C) are overwritten. scratch holds threads * (K * C + C) floats: each thread sums
   its share of the batch there, then the shares are added in thread order, so a given thread count
   always gives the same bits. */
void conv_pool_relu_backward(const float *x, const void *g, const uint8_t *win, float *gw, float *gb,
                             float *scratch, int N, int H, int W, int kh, int kw, int C, int bf16, int threads) {
    const int K = kh * kw;
    const size_t stride = (size_t)K * C + C;
    memset(scratch, 0, sizeof(float) * stride * threads);
    #pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        const int n0 = (int)((long)N * t / nt), n1 = (int)((long)N * (t + 1) / nt);
        float *part = scratch + (size_t)t * stride;
        backward_part(x, g, win, part, part + (size_t)K * C, n0, n1, H, W, kh, kw, C, bf16);
    }
    for (size_t i = 0; i < stride; i++) {
        float s = 0.0f;
        for (int t = 0; t < threads; t++) s += scratch[(size_t)t * stride + i];
        if (i < (size_t)K * C) gw[i] = s; else gb[i - (size_t)K * C] = s;
    }
}
