/* The skeleton painter's dabs, each painted only where it reaches (strokeparam/painters/skeleton.py, BoxRaster).

   Stroke i has k dabs q = i * k + d: centre (cx, cy) in pixels of its square (pixel j spans [j, j + 1]),
   inverse radius inv and weight w >= 0. Its ink is sum_q w_q exp(-((x - cx_q) inv_q)^2) exp(-((y - cy_q) inv_q)^2),
   its alpha 1 - exp(-ink). boxes (n, 5): top, left, height and width of the part of the square where the
   stroke is painted, and where the box's first pixel lies in the alpha buffer, whose rows are pitch floats
   apart (0: each box's width apart, boxes packed); alpha outside the boxes is not touched. A dab is painted over the pixels whose centres lie within
   reach / inv of its own (the rest of its Gaussian is below exp(-reach^2) of its peak). Threads share the
   strokes through OpenMP (built with -fopenmp, libgomp is the one torch loaded: one pool of threads).
   Built by scripts/setup.sh; without it the same sums run in torch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))   /* AVX2 and FMA where the CPU has them */
#else
#define CLONES
#endif

#define MAX_EXPONENT 30.0f    /* exp(-e) is taken as exp(-30) past it, as in torch's tables (skeleton._table) */
#define FAR 1e7f              /* a centre is clamped to +-FAR pixels before it is rounded (NaN: -FAR) */
#define LANES 8               /* columns of a block: one AVX register of floats */
#define MIN_SHARE 4096        /* dabs below which one thread paints alone */
#define GROUP 4               /* dabs painted together: each block of the canvas is read and written once for them */

typedef float block __attribute__((vector_size(LANES * sizeof(float)), aligned(sizeof(float)), may_alias));

/* exp(-e) for e in [0, MAX_EXPONENT] (larger: exp(-MAX_EXPONENT)), within ~2e-7 relative: 2^t = 2^n 2^r with
   n the integer nearest to t = -e log2(e), 2^r a Taylor polynomial of the 7th degree (|r| <= 1/2). It has
   no branches, so loops of it vectorize (that is also why the clamp is written with fabsf). */
static inline float exp_minus(float e)
{
    e = 0.5f * (e + MAX_EXPONENT - fabsf(e - MAX_EXPONENT));
    float t = -e * 1.44269504089f;
    int n = (int)(t - 0.5f);                     /* t <= 0: truncating t - 1/2 rounds t to the nearest */
    float r = (t - (float)n) * 0.69314718056f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f + r * (8.33333333e-3f
              + r * (1.38888889e-3f + r * 1.98412698e-4f))))));
    int bits = (n + 127) << 23;                  /* 2^n: n + 127 in the exponent field */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* The pixels [lo, hi) of [start, start + len) whose centres lie within radius of c. */
static inline void band(float c, float radius, long start, long len, long *lo, long *hi)
{
    c = fmaxf(fminf(c, FAR), -FAR);
    radius = fminf(radius, FAR);
    long a = (long)ceilf(c - radius - 0.5f), b = (long)floorf(c + radius - 0.5f) + 1;
    *lo = a > start ? a : start;
    *hi = b < start + len ? b : start + len;
}

/* A dab's columns [x0, x0 + nx) widened to whole blocks where the box has room (the Gaussian's tail there is
   exact, only smaller than the cut): fewer columns left over for the scalar loops. */
static inline void whole_blocks(long left, long width, long *x0, long *nx)
{
    long wide = (*nx + LANES - 1) / LANES * LANES;
    if (wide > width)
        wide = width / LANES * LANES > *nx ? width / LANES * LANES : *nx;
    if (*x0 + wide > left + width)
        *x0 = left + width - wide;
    *nx = wide;
}

/* g[j] = scale exp(-((centre of pixel lo + j - c) inv)^2) for j in [0, len), pixel 0's centre at origin (an
   integer + 1/2, so pixel centres are exact and d is rounded once: the same for any square around the pixel);
   exp(-MAX_EXPONENT) past reach radii. What a dab paints does not depend on which pixels around it are
   computed (bands widen to whole blocks, dabs share a band). */
static inline void gaussian(float *g, long lo, long len, float origin, float c, float inv, float scale,
                            float reach)
{
    float cut = reach * reach;
    for (int j = 0; j < (int)len; j++) {         /* int: AVX2 converts 32-bit integers to floats, not 64 */
        float d = ((float)((int)lo + j) + origin - c) * inv, e = d * d;
        e += 1e4f * (e - cut + fabsf(e - cut));  /* past the cut: far past MAX_EXPONENT; before it: + 0 */
        g[j] = scale * exp_minus(e);
    }
}

/* The sums over j < len of t_j, t_j e_j and t_j e_j^2, t_j = a_j b_j and e_j = (centre of pixel lo + j) - c
   (each e_j as gaussian computes it), LANES terms at a time. */
static inline void moments(const float *a, const float *b, long lo, long len, float origin, float c, float *m0,
                           float *m1, float *m2)
{
    block s0 = {0}, s1 = {0}, s2 = {0}, lane;
    for (int l = 0; l < LANES; l++)
        lane[l] = (float)l;
    int j = 0;
    for (; j + LANES <= (int)len; j += LANES) {
        block e = ((float)((int)lo + j) + lane) + origin - c, t = *(const block *)(a + j) * *(const block *)(b + j);
        s0 += t;
        s1 += t * e;
        s2 += t * e * e;
    }
    float r0 = 0.0f, r1 = 0.0f, r2 = 0.0f;
    for (int l = 0; l < LANES; l++) {
        r0 += s0[l];
        r1 += s1[l];
        r2 += s2[l];
    }
    for (; j < (int)len; j++) {
        float e = (float)((int)lo + j) + origin - c, t = a[j] * b[j];
        r0 += t;
        r1 += t * e;
        r2 += t * e * e;
    }
    *m0 = r0, *m1 = r1, *m2 = r2;
}

static long widest(const long *boxes, long n)
{
    long side = LANES;
    for (long i = 0; i < n; i++) {
        side = boxes[5 * i + 2] > side ? boxes[5 * i + 2] : side;
        side = boxes[5 * i + 3] > side ? boxes[5 * i + 3] : side;
    }
    return side;
}

/* The band of dabs [q, q + GROUP) of a stroke (those past its last dab, q >= end, are left out): the union of
   their rows [y0, y0 + ny) and columns [x0, x0 + nx) (widened to whole blocks), and their Gaussians over it,
   GROUP tables of side floats each in gx and gy (gy times the dab's weight when weighted; dabs left out: 0).
   Returns 0 where no dab reaches the box. */
static inline int group_band(long q, long end, const float *cx, const float *cy, const float *inv, const float *w,
                             float origin, float reach, long top, long left, long height, long width, int weighted,
                             long side, float *gx, float *gy, long *x0, long *nx, long *y0, long *ny)
{
    long lx = left + width, hx = left, ly = top + height, hy = top;
    for (long d = q; d < q + GROUP && d < end; d++) {
        long a, b, c, e;                   /* a pixel past the band: past the cut (1 px to spare for rounding) */
        band(cx[d] - origin + 0.5f, reach / inv[d] + 1.0f, left, width, &a, &b);
        band(cy[d] - origin + 0.5f, reach / inv[d] + 1.0f, top, height, &c, &e);
        if (a >= b || c >= e)
            continue;
        lx = a < lx ? a : lx;
        hx = b > hx ? b : hx;
        ly = c < ly ? c : ly;
        hy = e > hy ? e : hy;
    }
    if (lx >= hx || ly >= hy)
        return 0;
    *x0 = lx, *nx = hx - lx, *y0 = ly, *ny = hy - ly;
    whole_blocks(left, width, x0, nx);
    for (long d = 0; d < GROUP; d++) {
        if (q + d < end) {
            gaussian(gx + d * side, *x0, *nx, origin, cx[q + d], inv[q + d], 1.0f, reach);
            gaussian(gy + d * side, *y0, *ny, origin, cy[q + d], inv[q + d], weighted ? w[q + d] : 1.0f, reach);
        } else {
            memset(gx + d * side, 0, *nx * sizeof(float));
            memset(gy + d * side, 0, *ny * sizeof(float));
        }
    }
    return 1;
}

/* Stroke i's alpha into its box; gx and gy: room for GROUP tables of side floats each. */
CLONES
static void paint_stroke(long i, long k, const float *cx, const float *cy, const float *inv, const float *w,
                         const long *boxes, long pitch, float origin, float reach, float *alpha, float *gx,
                         float *gy, long side)
{
    const long *box = boxes + 5 * i;
    long top = box[0], left = box[1], height = box[2], width = box[3], rows = pitch ? pitch : width;
    float *ink = alpha + box[4];
    for (long y = 0; y < height; y++)
        memset(ink + y * rows, 0, width * sizeof(float));
    for (long q = i * k; q < (i + 1) * k; q += GROUP) {
        long x0, nx, y0, ny;
        if (!group_band(q, (i + 1) * k, cx, cy, inv, w, origin, reach, top, left, height, width, 1, side,
                        gx, gy, &x0, &nx, &y0, &ny))
            continue;
        long blocks = nx / LANES;
        const float *g0 = gx, *g1 = gx + side, *g2 = gx + 2 * side, *g3 = gx + 3 * side,
                    *h0 = gy, *h1 = gy + side, *h2 = gy + 2 * side, *h3 = gy + 3 * side;
        float *corner = ink + (y0 - top) * rows + (x0 - left);
        for (long b = 0; b < blocks; b++) {          /* a block of columns, down the group's rows */
            long o = LANES * b;
            block c0 = *(const block *)(g0 + o), c1 = *(const block *)(g1 + o),
                  c2 = *(const block *)(g2 + o), c3 = *(const block *)(g3 + o);
            float *at = corner + o;
            for (long y = 0; y < ny; y++, at += rows)
                *(block *)at += h0[y] * c0 + h1[y] * c1 + h2[y] * c2 + h3[y] * c3;
        }
        for (long j = LANES * blocks; j < nx; j++)  /* columns left over (a box narrower than a block) */
            for (long y = 0; y < ny; y++)
                corner[y * rows + j] += h0[y] * g0[j] + h1[y] * g1[j] + h2[y] * g2[j] + h3[y] * g3[j];
    }
    for (long y = 0; y < height; y++) {
        float *row = ink + y * rows;
        for (long x = 0; x < width; x++)
            row[x] = 1.0f - exp_minus(row[x]);      /* ink >= 0: the weights are */
    }
}

/* Alpha of strokes [0, n) into their boxes, on OpenMP's threads (torch's, where torch loaded libgomp).
   Returns 0, or -1 without memory for the Gaussians. */
int dabs_paint(long n, long k, const float *cx, const float *cy, const float *inv, const float *w,
               const long *boxes, long pitch, float origin, float reach, float *alpha)
{
    long side = widest(boxes, n), failed = 0;
#pragma omp parallel if (n * k >= MIN_SHARE) reduction(|:failed)
    {
        float *gx = malloc(2 * GROUP * side * sizeof(float));
#pragma omp for schedule(dynamic, 4)
        for (long i = 0; i < n; i++) {
            if (gx)
                paint_stroke(i, k, cx, cy, inv, w, boxes, pitch, origin, reach, alpha, gx, gx + GROUP * side, side);
            else
                failed = 1;
        }
        free(gx);
    }
    return failed ? -1 : 0;
}

/* Stroke i's gradients (see dabs_grads); gx: room for 4 GROUP tables of side floats and its box's pixels. */
CLONES
static void grads_stroke(long i, long k, const float *cx, const float *cy, const float *inv, const float *w,
                         const long *boxes, long pitch, float origin, float reach, const float *alpha,
                         const float *grad_alpha, float *grad_cx, float *grad_cy, float *grad_inv, float *grad_w,
                         float *gx, long side)
{
    float *gy = gx + GROUP * side, *across = gy + GROUP * side, *down = across + GROUP * side,
          *grad_ink = down + GROUP * side;
    const long *box = boxes + 5 * i;
    long top = box[0], left = box[1], height = box[2], width = box[3], rows = pitch ? pitch : width;
    for (long y = 0; y < height; y++) {            /* G, packed: rows width apart */
        const float *a = alpha + box[4] + y * rows, *g = grad_alpha + box[4] + y * rows;
        float *out = grad_ink + y * width;
        for (long x = 0; x < width; x++)
            out[x] = (1.0f - a[x]) * g[x];
    }
    for (long q = i * k; q < (i + 1) * k; q += GROUP) {
        long x0, nx, y0, ny, end = (i + 1) * k;
        for (long d = q; d < q + GROUP && d < end; d++)
            grad_cx[d] = grad_cy[d] = grad_inv[d] = grad_w[d] = 0.0f;
        if (!group_band(q, end, cx, cy, inv, w, origin, reach, top, left, height, width, 0, side, gx, gy,
                        &x0, &nx, &y0, &ny))
            continue;
        long blocks = nx / LANES;
        const float *g0 = gx, *g1 = gx + side, *g2 = gx + 2 * side, *g3 = gx + 3 * side,
                    *h0 = gy, *h1 = gy + side, *h2 = gy + 2 * side, *h3 = gy + 3 * side;
        const float *corner = grad_ink + (y0 - top) * width + (x0 - left);
        for (long b = 0; b < blocks; b++) {        /* across: sums down the rows of gy G, per column */
            block a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            const float *at = corner + LANES * b;
            for (long y = 0; y < ny; y++, at += width) {
                block r = *(const block *)at;
                a0 += h0[y] * r;
                a1 += h1[y] * r;
                a2 += h2[y] * r;
                a3 += h3[y] * r;
            }
            *(block *)(across + LANES * b) = a0;
            *(block *)(across + side + LANES * b) = a1;
            *(block *)(across + 2 * side + LANES * b) = a2;
            *(block *)(across + 3 * side + LANES * b) = a3;
        }
        for (long y = 0; y < ny; y++) {            /* down: sums across the columns of gx G, per row */
            block t0 = {0}, t1 = {0}, t2 = {0}, t3 = {0};
            const float *row = corner + y * width;
            for (long b = 0; b < blocks; b++) {
                long o = LANES * b;
                block r = *(const block *)(row + o);
                t0 += *(const block *)(g0 + o) * r;
                t1 += *(const block *)(g1 + o) * r;
                t2 += *(const block *)(g2 + o) * r;
                t3 += *(const block *)(g3 + o) * r;
            }
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            for (int l = 0; l < LANES; l++) {
                s0 += t0[l];
                s1 += t1[l];
                s2 += t2[l];
                s3 += t3[l];
            }
            for (long j = LANES * blocks; j < nx; j++) {
                s0 += g0[j] * row[j];
                s1 += g1[j] * row[j];
                s2 += g2[j] * row[j];
                s3 += g3[j] * row[j];
            }
            down[y] = s0, down[side + y] = s1, down[2 * side + y] = s2, down[3 * side + y] = s3;
        }
        for (long d = 0; d < GROUP; d++)           /* columns left over (a box narrower than a block) */
            for (long j = LANES * blocks; j < nx; j++) {
                float s = 0.0f;
                for (long y = 0; y < ny; y++)
                    s += gy[d * side + y] * corner[y * width + j];
                across[d * side + j] = s;
            }
        /* d ink / d cx = w gy gx' and so on: sums over d = pixel - centre */
        for (long d = 0; d < GROUP && q + d < end; d++) {
            const float *ax = across + d * side, *dy = down + d * side, *tx = gx + d * side, *ty = gy + d * side;
            float sx0, sx1, sx2, s0, sy1, sy2, wd = w[q + d], iv = inv[q + d];
            moments(ax, tx, x0, nx, origin, cx[q + d], &sx0, &sx1, &sx2);
            moments(dy, ty, y0, ny, origin, cy[q + d], &s0, &sy1, &sy2);
            grad_cx[q + d] = 2.0f * iv * iv * wd * sx1;
            grad_cy[q + d] = 2.0f * iv * iv * wd * sy1;
            grad_inv[q + d] = -2.0f * iv * wd * (sx2 + sy2);
            grad_w[q + d] = s0;
        }
    }
}

/* Gradients of strokes [0, n) with respect to cx, cy, inv and w (each like cx), from alpha (dabs_paint's)
   and its gradient grad_alpha (laid out alike), on OpenMP's threads. Through 1 - exp(-ink) the ink's
   gradient is (1 - alpha) grad_alpha =: G; a dab's sums of G times its row and column Gaussians give the
   rest. Returns 0, or -1 without memory for the scratch rows. */
int dabs_grads(long n, long k, const float *cx, const float *cy, const float *inv, const float *w,
               const long *boxes, long pitch, float origin, float reach, const float *alpha,
               const float *grad_alpha, float *grad_cx, float *grad_cy, float *grad_inv, float *grad_w)
{
    long side = widest(boxes, n), area = 1, failed = 0;
    for (long i = 0; i < n; i++)
        area = boxes[5 * i + 2] * boxes[5 * i + 3] > area ? boxes[5 * i + 2] * boxes[5 * i + 3] : area;
#pragma omp parallel if (n * k >= MIN_SHARE) reduction(|:failed)
    {
        float *gx = malloc((4 * GROUP * side + area) * sizeof(float));
#pragma omp for schedule(dynamic, 4)
        for (long i = 0; i < n; i++) {
            if (gx)
                grads_stroke(i, k, cx, cy, inv, w, boxes, pitch, origin, reach, alpha, grad_alpha, grad_cx,
                             grad_cy, grad_inv, grad_w, gx, side);
            else
                failed = 1;
        }
        free(gx);
    }
    return failed ? -1 : 0;
}
