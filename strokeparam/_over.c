/* "Over" compositing of stroke layers in one pass over memory (strokeparam/canvas.py, class Over).

   alpha (m, n, p): m layers of n strokes, p pixels each; color (m, n, 3). Stroke k is seen through the
   strokes above it: T_k = prod_{j > k} (1 - alpha_j). Threads share a call by pixels (or rows) through
   OpenMP (built with -fopenmp, libgomp is the one torch loaded: one pool of threads). Built by
   scripts/setup.sh; without it the same sums run in torch. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_num_threads(void) { return 1; }
static int omp_get_thread_num(void) { return 0; }
static int omp_get_max_threads(void) { return 1; }
#endif

#define BLOCK 512     /* pixels per block: its running sums, a few KB, stay in the L1 cache */
#define MIN_SHARE 4096   /* pixels of work below which one thread does a call alone */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CLONES __attribute__((target_clones("avx2", "default")))     /* AVX2 where the CPU has it */
#else
#define CLONES
#endif

/* This thread's part [q0, q1) of the pixels of n pixels, in whole blocks of 16 (cache lines). */
static void share(long pixels, long *q0, long *q1)
{
    long threads = omp_get_num_threads(), t = omp_get_thread_num();
    *q0 = pixels * t / threads / 16 * 16;
    *q1 = t + 1 == threads ? pixels : pixels * (t + 1) / threads / 16 * 16;
}

/* rgb (m, 3, p) premultiplied colour and out_alpha (m, p) of the composited strokes, pixels [q0, q1).
   Pixels go in blocks of BLOCK, so the running sums stay in the L1 cache while the strokes stream past. */
CLONES
static void forward_pixels(const float *alpha, const float *color, long m, long n, long p, long q0, long q1,
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

void over_forward(const float *alpha, const float *color, long m, long n, long p, float *rgb, float *out_alpha)
{
#pragma omp parallel if (m * n * p >= 2 * MIN_SHARE)
    {
        long q0, q1;
        share(p, &q0, &q1);
        forward_pixels(alpha, color, m, n, p, q0, q1, rgb, out_alpha);
    }
}

/* grad_a (m, n, p) of the pixels [q0, q1), and grad_color (m, n, 3) summed over those pixels only, from the
   gradients grad_rgb (m, 3, p) and grad_alpha (m, p) of over_forward's outputs. With C_k, A_k the
   premultiplied colour and alpha of the strokes below k and g = grad_rgb: d/d alpha_k = T_k (g . c_k -
   g . C_k + grad_alpha (1 - A_k)), d/d c_k = sum over pixels of g alpha_k T_k. Pixels go in blocks of
   BLOCK: a block's strokes are read from memory once and its gradient written once, the second pass
   finding both in the cache. */
CLONES
static void backward_pixels(const float *alpha, const float *color, const float *grad_rgb, const float *grad_alpha,
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

/* Sums of the threads' parts (threads x count floats, from parts) into out (count floats). */
static void add_parts(const float *parts, long threads, long count, float *out)
{
    memcpy(out, parts, count * sizeof(float));
    for (long t = 1; t < threads; t++)
        for (long j = 0; j < count; j++)
            out[j] += parts[t * count + j];
}

/* over_backward_pixels over all pixels, on OpenMP's threads. Returns 0, or -1 without memory for the
   threads' sums of the colours' gradient. */
int over_backward(const float *alpha, const float *color, const float *grad_rgb, const float *grad_alpha,
                  long m, long n, long p, float *grad_a, float *grad_color)
{
    long threads = m * n * p >= 2 * MIN_SHARE ? omp_get_max_threads() : 1, count = 3 * m * n;
    float *parts = calloc(threads * count, sizeof(float));          /* 0 for threads the team lacks */
    if (!parts)
        return -1;
#pragma omp parallel num_threads(threads)
    {
        long q0, q1;
        share(p, &q0, &q1);
        backward_pixels(alpha, color, grad_rgb, grad_alpha, m, n, p, q0, q1, grad_a,
                        parts + omp_get_thread_num() * count);
    }
    add_parts(parts, threads, count, grad_color);
    free(parts);
    return 0;
}

/* "Over" of strokes painted in boxes, straight onto a canvas (strokeparam/canvas.py, OverBoxes): painting i's
   strokes are i * n + k, k < n, in painting order; stroke s covers the box (top, left, rows, cols) of the
   height x width canvas, its alpha there row by row from alpha + offset, rows stride floats apart (boxes
   (m * n, 6) = top, left, rows, cols, offset, stride; inside the canvas). The same sums as over_forward,
   over the boxes' pixels only; threads share the canvas's rows, cut where the boxes' pixels above are
   shared evenly. */
enum { TOP, LEFT, ROWS, COLS, OFFSET, STRIDE, BOX };

static inline long clip_rows(const long *box, long r0, long r1, long *y1)
{
    long y0 = box[TOP] > r0 ? box[TOP] : r0;
    *y1 = box[TOP] + box[ROWS] < r1 ? box[TOP] + box[ROWS] : r1;
    return y0;
}

/* This thread's rows [r0, r1) of the height rows covered by count boxes: rows cut where the pixels of the
   boxes (and of each row itself) above them are shared evenly among the threads. */
static void share_rows(const long *boxes, long count, long height, long width, long *r0, long *r1)
{
    long threads = omp_get_num_threads(), t = omp_get_thread_num(), total = 0, running = 0;
    long *cost = calloc(height + 1, sizeof(long));
    *r0 = t == 0 ? 0 : height, *r1 = height;
    if (!cost) {                                      /* no memory: equal numbers of rows */
        *r0 = height * t / threads, *r1 = height * (t + 1) / threads;
        return;
    }
    for (long s = 0; s < count; s++) {
        cost[boxes[BOX * s + TOP]] += boxes[BOX * s + COLS];
        cost[boxes[BOX * s + TOP] + boxes[BOX * s + ROWS]] -= boxes[BOX * s + COLS];
    }
    for (long r = 0, covered = 0; r < height; r++) {
        covered += cost[r];
        cost[r] = covered + width;
        total += cost[r];
    }
    for (long r = 0; r < height; r++) {
        running += cost[r];
        if (t > 0 && *r0 == height && running * threads >= total * t)
            *r0 = r + 1;
        if (t + 1 < threads && running * threads >= total * (t + 1)) {
            *r1 = r + 1;
            break;
        }
    }
    *r1 = *r1 > *r0 ? *r1 : *r0;
    free(cost);
}

CLONES
static void forward_rows(const float *alpha, const long *boxes, const float *color, long m, long n, long height,
                         long width, long r0, long r1, float *rgb, float *out_alpha)
{
    long p = height * width;
    for (long i = 0; i < m; i++) {
        float *r = rgb + i * 3 * p, *g = r + p, *b = g + p, *t = out_alpha + i * p;
        for (long q = r0 * width; q < r1 * width; q++) {
            r[q] = g[q] = b[q] = 0.0f;
            t[q] = 1.0f;
        }
        for (long k = n - 1; k >= 0; k--) {
            const long *box = boxes + BOX * (i * n + k);
            const float *c = color + 3 * (i * n + k);
            float c0 = c[0], c1 = c[1], c2 = c[2];
            long y1, y0 = clip_rows(box, r0, r1, &y1), cols = box[COLS];
            for (long y = y0; y < y1; y++) {
                const float *a = alpha + box[OFFSET] + (y - box[TOP]) * box[STRIDE];
                long o = y * width + box[LEFT];
                for (long x = 0; x < cols; x++) {
                    float w = a[x] * t[o + x];
                    r[o + x] += w * c0;
                    g[o + x] += w * c1;
                    b[o + x] += w * c2;
                    t[o + x] -= w;
                }
            }
        }
        for (long q = r0 * width; q < r1 * width; q++)
            t[q] = 1.0f - t[q];
    }
}

/* grad_a (like alpha) of the boxes' pixels in rows [r0, r1) (pixels of no box are not written), and
   grad_color (m * n, 3) summed over those rows only, from the gradients of over_boxes_forward's outputs;
   the sums of over_backward, stroke by stroke: top down T_k, then bottom up what lies below. Returns 0, or
   -1 without memory for three rows x width floats per row done. */
CLONES
static int backward_rows(const float *alpha, const long *boxes, const float *color, const float *grad_rgb,
                         const float *grad_alpha, long m, long n, long height, long width, long r0, long r1,
                         float *grad_a, float *grad_color)
{
    long p = height * width, done = (r1 - r0) * width;
    float *t = malloc(3 * (done > 0 ? done : 1) * sizeof(float)), *below = t + done, *bare = below + done;
    if (!t)
        return -1;
    for (long s = 0; s < 3 * m * n; s++)
        grad_color[s] = 0.0f;
    for (long i = 0; i < m; i++) {
        const float *g0 = grad_rgb + i * 3 * p, *g1 = g0 + p, *g2 = g1 + p, *ga = grad_alpha + i * p;
        for (long q = 0; q < done; q++) {
            t[q] = 1.0f;
            below[q] = 0.0f;
            bare[q] = 1.0f;
        }
        for (long k = n - 1; k >= 0; k--) {            /* top down: T_k, and the colour's gradient */
            const long *box = boxes + BOX * (i * n + k);
            long y1, y0 = clip_rows(box, r0, r1, &y1), cols = box[COLS];
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f;
            for (long y = y0; y < y1; y++) {
                long at = box[OFFSET] + (y - box[TOP]) * box[STRIDE], o = y * width + box[LEFT];
                const float *a = alpha + at;
                float *out = grad_a + at, *tk = t + (y - r0) * width + box[LEFT];
                for (long x = 0; x < cols; x++) {
                    float w = a[x] * tk[x];
                    out[x] = tk[x];
                    s0 += g0[o + x] * w;
                    s1 += g1[o + x] * w;
                    s2 += g2[o + x] * w;
                    tk[x] -= w;
                }
            }
            float *gc = grad_color + 3 * (i * n + k);
            gc[0] = s0, gc[1] = s1, gc[2] = s2;
        }
        for (long k = 0; k < n; k++) {                 /* bottom up: what lies below stroke k */
            const long *box = boxes + BOX * (i * n + k);
            const float *c = color + 3 * (i * n + k);
            float c0 = c[0], c1 = c[1], c2 = c[2];
            long y1, y0 = clip_rows(box, r0, r1, &y1), cols = box[COLS];
            for (long y = y0; y < y1; y++) {
                long at = box[OFFSET] + (y - box[TOP]) * box[STRIDE], o = y * width + box[LEFT];
                const float *a = alpha + at;
                float *out = grad_a + at, *under = below + (y - r0) * width + box[LEFT],
                      *clear = bare + (y - r0) * width + box[LEFT];
                for (long x = 0; x < cols; x++) {
                    float seen = g0[o + x] * c0 + g1[o + x] * c1 + g2[o + x] * c2, u = under[x];
                    out[x] *= seen - u + ga[o + x] * clear[x];
                    under[x] = u + a[x] * (seen - u);
                    clear[x] -= a[x] * clear[x];
                }
            }
        }
    }
    free(t);
    return 0;
}

/* rgb (m, 3, height, width) premultiplied and out_alpha (m, 1, height, width) of the boxes' strokes, on
   OpenMP's threads (pixels: of the boxes, for whether to share). */
void over_boxes_forward(const float *alpha, const long *boxes, const float *color, long m, long n, long height,
                        long width, long pixels, float *rgb, float *out_alpha)
{
#pragma omp parallel if (pixels >= 2 * MIN_SHARE)
    {
        long r0, r1;
        share_rows(boxes, m * n, height, width, &r0, &r1);
        forward_rows(alpha, boxes, color, m, n, height, width, r0, r1, rgb, out_alpha);
    }
}

/* backward_rows over all rows, on OpenMP's threads. Returns 0, or -1 without memory for the threads'
   scratch rows. */
int over_boxes_backward(const float *alpha, const long *boxes, const float *color, const float *grad_rgb,
                        const float *grad_alpha, long m, long n, long height, long width, long pixels,
                        float *grad_a, float *grad_color)
{
    long threads = pixels >= 2 * MIN_SHARE ? omp_get_max_threads() : 1, count = 3 * m * n, failed = 0;
    float *parts = calloc(threads * count, sizeof(float));          /* 0 for threads the team lacks */
    if (!parts)
        return -1;
#pragma omp parallel num_threads(threads) reduction(|:failed)
    {
        long r0, r1;
        share_rows(boxes, m * n, height, width, &r0, &r1);
        failed = backward_rows(alpha, boxes, color, grad_rgb, grad_alpha, m, n, height, width, r0, r1, grad_a,
                               parts + omp_get_thread_num() * count) != 0;
    }
    add_parts(parts, threads, count, grad_color);
    free(parts);
    return failed ? -1 : 0;
}
