/* "Over" compositing of stroke layers in one pass over memory (strokeparam/canvas.py, class Over).

   alpha (m, n, p): m layers of n strokes, p pixels each; color (m, n, 3). Pixels [q0, q1) of every layer
   are done, so threads can share a call by pixel range. Stroke k is seen through the strokes above it:
   T_k = prod_{j > k} (1 - alpha_j). Built by scripts/setup.sh; without it the same sums run in torch. */
#define BLOCK 512     /* pixels per block: its running sums, a few KB, stay in the L1 cache */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CLONES __attribute__((target_clones("avx2", "default")))     /* AVX2 where the CPU has it */
#else
#define CLONES
#endif

/* rgb (m, 3, p) premultiplied colour and out_alpha (m, p) of the composited strokes. Pixels go in blocks of
   BLOCK, so the running sums stay in the L1 cache while the strokes stream past. */
CLONES
void over_forward(const float *alpha, const float *color, long m, long n, long p, long q0, long q1,
                  float *rgb, float *out_alpha)
{
    for (long i = 0; i < m; i++) {
        const float *a = alpha + i * n * p, *c = color + i * n * 3;
        float *r = rgb + i * 3 * p, *g = r + p, *b = g + p, *t = out_alpha + i * p;
        for (long b0 = q0; b0 < q1; b0 += BLOCK) {
            long b1 = b0 + BLOCK < q1 ? b0 + BLOCK : q1;
            for (long q = b0; q < b1; q++) {
                r[q] = g[q] = b[q] = 0.0f;
                t[q] = 1.0f;
            }
            for (long k = n - 1; k >= 0; k--) {
                const float *ak = a + k * p, c0 = c[3 * k], c1 = c[3 * k + 1], c2 = c[3 * k + 2];
                for (long q = b0; q < b1; q++) {
                    float w = ak[q] * t[q];
                    r[q] += w * c0;
                    g[q] += w * c1;
                    b[q] += w * c2;
                    t[q] -= w;
                }
            }
            for (long q = b0; q < b1; q++)
                t[q] = 1.0f - t[q];
        }
    }
}

/* grad_a (m, n, p) of the pixels [q0, q1), and grad_color (m, n, 3) summed over those pixels only, from the
   gradients grad_rgb (m, 3, p) and grad_alpha (m, p) of over_forward's outputs. With C_k, A_k the premultiplied colour and alpha of the
   strokes below k and g = grad_rgb: d/d alpha_k = T_k (g . c_k - g . C_k + grad_alpha (1 - A_k)),
   d/d c_k = sum over pixels of g alpha_k T_k. Pixels go in blocks of BLOCK: a block's strokes are read from
   memory once and its gradient written once, the second pass finding both in the cache. */
CLONES
void over_backward(const float *alpha, const float *color, const float *grad_rgb, const float *grad_alpha,
                   long m, long n, long p, long q0, long q1, float *grad_a, float *grad_color)
{
    float t[BLOCK], below[BLOCK], bare[BLOCK];
    for (long i = 0; i < m; i++) {
        const float *a = alpha + i * n * p, *c = color + i * n * 3;
        const float *g0 = grad_rgb + i * 3 * p, *g1 = g0 + p, *g2 = g1 + p, *ga = grad_alpha + i * p;
        float *out = grad_a + i * n * p, *gc = grad_color + i * n * 3;
        for (long k = 0; k < 3 * n; k++)
            gc[k] = 0.0f;
        for (long b0 = q0; b0 < q1; b0 += BLOCK) {
            long len = (b0 + BLOCK < q1 ? b0 + BLOCK : q1) - b0;
            const float *h0 = g0 + b0, *h1 = g1 + b0, *h2 = g2 + b0, *ha = ga + b0;
            for (long q = 0; q < len; q++)
                t[q] = 1.0f;
            for (long k = n - 1; k >= 0; k--) {        /* top down: T_k, and the colour's gradient */
                const float *ak = a + k * p + b0;
                float *ok = out + k * p + b0, s0 = 0.0f, s1 = 0.0f, s2 = 0.0f;
                for (long q = 0; q < len; q++) {
                    float w = ak[q] * t[q];
                    ok[q] = t[q];
                    s0 += h0[q] * w;
                    s1 += h1[q] * w;
                    s2 += h2[q] * w;
                    t[q] -= w;
                }
                gc[3 * k] += s0;
                gc[3 * k + 1] += s1;
                gc[3 * k + 2] += s2;
            }
            for (long q = 0; q < len; q++) {
                below[q] = 0.0f;
                bare[q] = 1.0f;
            }
            for (long k = 0; k < n; k++) {              /* bottom up: what lies below stroke k */
                const float *ak = a + k * p + b0, c0 = c[3 * k], c1 = c[3 * k + 1], c2 = c[3 * k + 2];
                float *ok = out + k * p + b0;
                for (long q = 0; q < len; q++) {
                    float seen = h0[q] * c0 + h1[q] * c1 + h2[q] * c2, under = below[q];
                    ok[q] *= seen - under + ha[q] * bare[q];
                    below[q] = under + ak[q] * (seen - under);
                    bare[q] -= ak[q] * bare[q];
                }
            }
        }
    }
}
