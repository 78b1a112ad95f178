/* "Over" compositing of stroke layers in one pass over memory (strokeparam/canvas.py, class Over).

   alpha (m, n, p): m layers of n strokes, p pixels each; color (m, n, 3). Pixels [q0, q1) of every layer
   are done, so threads can share a call by pixel range. Stroke k is seen through the strokes above it:
   T_k = prod_{j > k} (1 - alpha_j). Built by scripts/setup.sh; without it the same sums run in torch. */
#include <stdlib.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CLONES __attribute__((target_clones("avx2", "default")))     /* AVX2 where the CPU has it */
#else
#define CLONES
#endif

/* rgb (m, 3, p) premultiplied colour and out_alpha (m, p) of the composited strokes. */
CLONES
void over_forward(const float *alpha, const float *color, long m, long n, long p, long q0, long q1,
                  float *rgb, float *out_alpha)
{
    for (long i = 0; i < m; i++) {
        const float *a = alpha + i * n * p, *c = color + i * n * 3;
        float *r = rgb + i * 3 * p, *g = r + p, *b = g + p, *t = out_alpha + i * p;
        for (long q = q0; q < q1; q++) {
            r[q] = g[q] = b[q] = 0.0f;
            t[q] = 1.0f;
        }
        for (long k = n - 1; k >= 0; k--) {
            const float *ak = a + k * p, c0 = c[3 * k], c1 = c[3 * k + 1], c2 = c[3 * k + 2];
            for (long q = q0; q < q1; q++) {
                float w = ak[q] * t[q];
                r[q] += w * c0;
                g[q] += w * c1;
                b[q] += w * c2;
                t[q] -= w;
            }
        }
        for (long q = q0; q < q1; q++)
            t[q] = 1.0f - t[q];
    }
}

/* grad_a (m, n, p) of the pixels [q0, q1), and grad_color (m, n, 3) summed over those pixels only, from the
   gradients grad_rgb (m, 3, p) and grad_alpha (m, p) of over_forward's outputs. Returns 0, or 1 when out
   of memory. With C_k, A_k the premultiplied colour and alpha of the strokes below k and g = grad_rgb:
   d/d alpha_k = T_k (g . c_k - g . C_k + grad_alpha (1 - A_k)), d/d c_k = sum over pixels of g alpha_k T_k. */
CLONES
int over_backward(const float *alpha, const float *color, const float *grad_rgb, const float *grad_alpha,
                  long m, long n, long p, long q0, long q1, float *grad_a, float *grad_color)
{
    long len = q1 - q0;
    float *work = malloc(sizeof(float) * 3 * (len > 0 ? len : 1));
    if (!work)
        return 1;
    float *t = work - q0, *below = t + len, *bare = below + len;
    for (long i = 0; i < m; i++) {
        const float *a = alpha + i * n * p, *c = color + i * n * 3;
        const float *g0 = grad_rgb + i * 3 * p, *g1 = g0 + p, *g2 = g1 + p, *ga = grad_alpha + i * p;
        float *out = grad_a + i * n * p, *gc = grad_color + i * n * 3;
        for (long q = q0; q < q1; q++)
            t[q] = 1.0f;
        for (long k = n - 1; k >= 0; k--) {        /* top down: T_k, and the colour's gradient */
            const float *ak = a + k * p;
            float *ok = out + k * p, s0 = 0.0f, s1 = 0.0f, s2 = 0.0f;
            for (long q = q0; q < q1; q++) {
                float w = ak[q] * t[q];
                ok[q] = t[q];
                s0 += g0[q] * w;
                s1 += g1[q] * w;
                s2 += g2[q] * w;
                t[q] -= w;
            }
            gc[3 * k] = s0;
            gc[3 * k + 1] = s1;
            gc[3 * k + 2] = s2;
        }
        for (long q = q0; q < q1; q++) {
            below[q] = 0.0f;
            bare[q] = 1.0f;
        }
        for (long k = 0; k < n; k++) {              /* bottom up: what lies below stroke k */
            const float *ak = a + k * p, c0 = c[3 * k], c1 = c[3 * k + 1], c2 = c[3 * k + 2];
            float *ok = out + k * p;
            for (long q = q0; q < q1; q++) {
                float seen = g0[q] * c0 + g1[q] * c1 + g2[q] * c2, under = below[q];
                ok[q] *= seen - under + ga[q] * bare[q];
                below[q] = under + ak[q] * (seen - under);
                bare[q] -= ak[q] * bare[q];
            }
        }
    }
    free(work);
    return 0;
}
