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
            float sx1 = 0.0f, sx2 = 0.0f, s0 = 0.0f, sy1 = 0.0f, sy2 = 0.0f, wd = w[q + d], iv = inv[q + d];
            for (int j = 0; j < (int)nx; j++) {
                float e = (float)((int)x0 + j) + origin - cx[q + d], t = ax[j] * tx[j];
                sx1 += t * e;
                sx2 += t * e * e;
            }
            for (int y = 0; y < (int)ny; y++) {
                float e = (float)((int)y0 + y) + origin - cy[q + d], t = dy[y] * ty[y];
                s0 += t;
                sy1 += t * e;
                sy2 += t * e * e;
            }
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

/* The dabs of strokes (SkeletonPainter.dab_geometry with frozen weights and no noise input; DabGeometry):
   for each stroke's actions (12: pressures, size, colour, three control points), its T dabs' centres
   (T, 2), radii and peak inks (T, C), and the gradient of the actions from theirs. The per-dab network
   (7 -> H -> H -> 2C + 1, SiLU; weights w1, w2, w3 as nn.Linear keeps them) runs on LANES dabs at once,
   one dab per lane. k: the painter's numbers (K_*); noise (n, T, 2) for a random draw, or NULL. */
enum { K_SIZE, K_SCALE, K_RADIUS_MIN, K_LOG_RATIO, K_MIN_RADIUS, K_JITTER, K_GAIN, K_OFFSET_X, K_OFFSET_Y };
#define FEATURES 7
#define MAX_HIDDEN 256
#define MAX_OUT 33            /* 2 C + 1 for C <= 16 components */
#define INLINED static inline __attribute__((always_inline))   /* compiled into each clone of its caller */

typedef struct {
    long dabs, components, hidden;
    const float *w1, *b1, *w2, *b2, *w3, *b3, *k;
} Net;

/* sigmoid(x) = 1/2 + 1/2 tanh(x/2), tanh from exp(-|x|): no branches (copysignf), so loops vectorize. */
static inline float sigmoid(float x)
{
    float e = exp_minus(fabsf(x));
    return 0.5f + 0.5f * copysignf((1.0f - e) / (1.0f + e), x);
}


static inline float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }   /* torch's threshold */

/* What a stroke's dabs need along its path: control points p (3, 2), pressures, the path's steps and
   spacing, its length and the brush radius; t[j] = j / (T - 1). */
typedef struct {
    float p[6], p0, p1, size, radius, length;
    float *t, *path, *step, *spacing;        /* T, 2 T, T - 1, T */
} Stroke;

static inline void curve(const float *p, float t, float *out)
{
    float a = (1 - t) * (1 - t), b = 2 * (1 - t) * t, c = t * t;
    out[0] = a * p[0] + b * p[2] + c * p[4];
    out[1] = a * p[1] + b * p[3] + c * p[5];
}

INLINED void stroke_path(const float *action, const Net *net, Stroke *s)
{
    long T = net->dabs;
    for (int i = 0; i < 3; i++) {
        s->p[2 * i] = action[6 + 2 * i] * net->k[K_SIZE] + net->k[K_OFFSET_X];
        s->p[2 * i + 1] = action[7 + 2 * i] * net->k[K_SIZE] + net->k[K_OFFSET_Y];
    }
    s->p0 = action[0], s->p1 = action[1], s->size = action[2];
    s->radius = net->k[K_RADIUS_MIN] * net->k[K_SCALE] * expf(s->size * net->k[K_LOG_RATIO]);
    for (long j = 0; j < T; j++) {
        s->t[j] = (float)j / (float)(T - 1);
        curve(s->p, s->t[j], s->path + 2 * j);
    }
    s->length = 0.0f;
    for (long j = 0; j + 1 < T; j++) {
        float dx = s->path[2 * j + 2] - s->path[2 * j], dy = s->path[2 * j + 3] - s->path[2 * j + 1];
        s->step[j] = sqrtf(dx * dx + dy * dy + 1e-6f);
        s->length += s->step[j];
    }
    for (long j = 0; j < T; j++)
        s->spacing[j] = 0.5f * ((j > 0 ? s->step[j - 1] : 0.0f) + (j + 1 < T ? s->step[j] : 0.0f));
}

/* out[o] = bias[o] (0 without) + sum over i < ins of W(o, i) x[i], W(o, i) = w[o * rows + i * cols], for o < outs;
   x and out hold LANES values (dabs) each. Four outputs at a time: four chains of FMAs, not one. */
INLINED void lanes_matvec(long outs, long ins, const float *w, long rows, long cols, const float *bias,
                          const float *x, float *out)
{
    long o = 0;
    for (; o + 4 <= outs; o += 4) {
        block a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        if (bias)
            a0 += bias[o], a1 += bias[o + 1], a2 += bias[o + 2], a3 += bias[o + 3];
        const float *w0 = w + o * rows, *w1 = w0 + rows, *w2 = w1 + rows, *w3 = w2 + rows;
        for (long i = 0; i < ins; i++) {
            block xi = *(const block *)(x + i * LANES);
            a0 += w0[i * cols] * xi;
            a1 += w1[i * cols] * xi;
            a2 += w2[i * cols] * xi;
            a3 += w3[i * cols] * xi;
        }
        *(block *)(out + o * LANES) = a0;
        *(block *)(out + (o + 1) * LANES) = a1;
        *(block *)(out + (o + 2) * LANES) = a2;
        *(block *)(out + (o + 3) * LANES) = a3;
    }
    for (; o < outs; o++) {
        block a = {0};
        if (bias)
            a += bias[o];
        for (long i = 0; i < ins; i++)
            a += w[o * rows + i * cols] * *(const block *)(x + i * LANES);
        *(block *)(out + o * LANES) = a;
    }
}

/* The network on dabs [j0, j0 + LANES) (lanes past T repeat the last dab): pre1, pre2 (H, LANES) its
   pre-activations, out (2C + 1, LANES). */
INLINED void network(const Net *net, const Stroke *s, long j0, float *pre1, float *pre2, float *out)
{
    long T = net->dabs, H = net->hidden, O = 2 * net->components + 1;
    float f[FEATURES * LANES], h[MAX_HIDDEN * LANES];       /* (feature or unit, lane) */
    for (int l = 0; l < LANES; l++) {
        long j = j0 + l < T ? j0 + l : T - 1;
        f[l] = s->p0 + (s->p1 - s->p0) * s->t[j];
        f[LANES + l] = s->size;
        f[2 * LANES + l] = s->t[j];
        f[3 * LANES + l] = s->spacing[j] / net->k[K_SCALE];
        f[4 * LANES + l] = s->spacing[j] / s->radius;
        f[5 * LANES + l] = s->length / (net->k[K_SIZE] * 1.5f);
        f[6 * LANES + l] = s->p1 - s->p0;
    }
    lanes_matvec(H, FEATURES, net->w1, FEATURES, 1, net->b1, f, pre1);
    for (long q = 0; q < H * LANES; q++)
        h[q] = pre1[q] * sigmoid(pre1[q]);
    lanes_matvec(H, H, net->w2, H, 1, net->b2, h, pre2);
    for (long q = 0; q < H * LANES; q++)
        h[q] = pre2[q] * sigmoid(pre2[q]);
    lanes_matvec(O, H, net->w3, H, 1, net->b3, h, out);
}

/* Dab j's centre (2), radii and inks (C) from the network's outputs o (2C + 1). */
INLINED void dab_forward(const Net *net, const Stroke *s, long j, const float *o, const float *noise,
                        float *centre, float *rad, float *weight)
{
    long C = net->components;
    const float *k = net->k;
    float pr = s->p0 + (s->p1 - s->p0) * s->t[j], lag = s->t[j] + 0.1f * tanhf(o[2 * C]), mean = 0.0f;
    curve(s->p, lag < 0.0f ? 0.0f : lag > 1.0f ? 1.0f : lag, centre);
    for (long c = 0; c < C; c++) {
        float e = s->radius * expf(o[c]);
        rad[c] = e >= k[K_MIN_RADIUS] ? e : k[K_MIN_RADIUS];
        weight[c] = softplus(o[C + c]) * pr * (s->spacing[j] + 0.5f * k[K_SCALE]) / (rad[c] * 1.7724538509f);
        mean += rad[c] / (float)C;
    }
    if (!noise)
        return;
    float sigma = k[K_JITTER] * pr * mean;
    centre[0] += noise[0] * sigma;
    centre[1] += noise[1] * sigma;
    for (long c = 0; c < C; c++) {
        float s2 = rad[c] * rad[c] - 2.0f * sigma * sigma, floor = 0.0625f * rad[c] * rad[c];
        float shrunk = sqrtf(s2 >= floor ? s2 : floor), ratio = rad[c] / shrunk;
        weight[c] *= ratio * ratio * k[K_GAIN];
        rad[c] = shrunk;
    }
}

/* Dab j's part of the backward: from the gradients of its centre, radii and inks, the gradient of the
   network's outputs (g_o, 2C + 1) and what goes to the stroke: g_p (6), g_pressure[j], g_spacing[j] and
   *g_radius (accumulated). */
INLINED void dab_backward(const Net *net, const Stroke *s, long j, const float *o, const float *noise,
                         const float *g_centre, const float *g_rad, const float *g_weight, float *g_o, float *g_p,
                         float *g_pressure, float *g_spacing, float *g_radius)
{
    long C = net->components;
    const float *k = net->k;
    float pr = s->p0 + (s->p1 - s->p0) * s->t[j], th = tanhf(o[2 * C]), lag = s->t[j] + 0.1f * th;
    float tl = lag < 0.0f ? 0.0f : lag > 1.0f ? 1.0f : lag, room = s->spacing[j] + 0.5f * k[K_SCALE];
    float r0[MAX_OUT], e[MAX_OUT], sp[MAX_OUT], w0[MAX_OUT], g_r0[MAX_OUT], g_w0[MAX_OUT], mean = 0.0f;
    for (long c = 0; c < C; c++) {
        e[c] = s->radius * expf(o[c]);
        r0[c] = e[c] >= k[K_MIN_RADIUS] ? e[c] : k[K_MIN_RADIUS];
        sp[c] = softplus(o[C + c]);
        w0[c] = sp[c] * pr * room / (r0[c] * 1.7724538509f);
        mean += r0[c] / (float)C;
        g_r0[c] = g_rad[c], g_w0[c] = g_weight[c];
    }
    float g_pr = 0.0f;
    if (noise) {                      /* the jitter: sigma = J pr mean(r0), shrunk = sqrt(max(r0^2 - 2 sigma^2, r0^2 / 16)) */
        float sigma = k[K_JITTER] * pr * mean, g_sigma = g_centre[0] * noise[0] + g_centre[1] * noise[1], g_mean;
        for (long c = 0; c < C; c++) {
            float s2 = r0[c] * r0[c] - 2.0f * sigma * sigma, floor = 0.0625f * r0[c] * r0[c];
            float q = s2 >= floor ? s2 : floor, shrunk = sqrtf(q), w = w0[c] * r0[c] * r0[c] / q * k[K_GAIN];
            float g_q = g_rad[c] * 0.5f / shrunk - g_weight[c] * w / q;
            g_w0[c] = g_weight[c] * r0[c] * r0[c] / q * k[K_GAIN];
            g_r0[c] = g_weight[c] * w0[c] * k[K_GAIN] * 2.0f * r0[c] / q;
            if (s2 >= floor) {
                g_r0[c] += g_q * 2.0f * r0[c];
                g_sigma -= g_q * 4.0f * sigma;
            } else {
                g_r0[c] += g_q * 0.125f * r0[c];
            }
        }
        g_pr += g_sigma * k[K_JITTER] * mean;
        g_mean = g_sigma * k[K_JITTER] * pr;
        for (long c = 0; c < C; c++)
            g_r0[c] += g_mean / (float)C;
    }
    for (long c = 0; c < C; c++) {    /* w0 = softplus(o) pr room / (r0 sqrt(pi)), r0 = max(radius e^o, min) */
        float g_sp = g_w0[c] * pr * room / (r0[c] * 1.7724538509f);
        g_pr += g_w0[c] * sp[c] * room / (r0[c] * 1.7724538509f);
        g_spacing[j] += g_w0[c] * sp[c] * pr / (r0[c] * 1.7724538509f);
        g_r0[c] -= g_w0[c] * w0[c] / r0[c];
        g_o[C + c] = o[C + c] > 20.0f ? g_sp : g_sp * sigmoid(o[C + c]);
        g_o[c] = e[c] >= k[K_MIN_RADIUS] ? g_r0[c] * e[c] : 0.0f;
        *g_radius += e[c] >= k[K_MIN_RADIUS] ? g_r0[c] * expf(o[c]) : 0.0f;
    }
    g_pressure[j] += g_pr;
    /* centre = B(clamp(t + 0.1 tanh(o), 0, 1)) */
    float a = (1 - tl) * (1 - tl), b = 2 * (1 - tl) * tl, c2 = tl * tl;
    for (int d = 0; d < 2; d++) {
        g_p[d] += g_centre[d] * a;
        g_p[2 + d] += g_centre[d] * b;
        g_p[4 + d] += g_centre[d] * c2;
    }
    float dx = 2 * (1 - tl) * (s->p[2] - s->p[0]) + 2 * tl * (s->p[4] - s->p[2]);
    float dy = 2 * (1 - tl) * (s->p[3] - s->p[1]) + 2 * tl * (s->p[5] - s->p[3]);
    float g_lag = lag >= 0.0f && lag <= 1.0f ? g_centre[0] * dx + g_centre[1] * dy : 0.0f;
    g_o[2 * C] = g_lag * 0.1f * (1.0f - th * th);
}

/* The network's backward on dabs [j0, j0 + LANES): from g_out (2C + 1, LANES; 0 in lanes past T) the
   gradient of the features, added to the stroke's: g_pressure, g_spacing (T), g[0] size, g[1] radius,
   g[2] length, g[3] p1 - p0. */
INLINED void network_backward(const Net *net, const Stroke *s, long j0, const float *pre1, const float *pre2,
                              const float *g_out, float *g_pressure, float *g_spacing, float *g)
{
    long T = net->dabs, H = net->hidden, O = 2 * net->components + 1;
    float g1[MAX_HIDDEN * LANES], g2[MAX_HIDDEN * LANES], gf[FEATURES * LANES];
    lanes_matvec(H, O, net->w3, 1, H, NULL, g_out, g2);         /* through layer 3 (its weights transposed) */
    for (long q = 0; q < H * LANES; q++) {                      /* and the second SiLU */
        float x = pre2[q], sg = sigmoid(x);
        g2[q] *= sg * (1.0f + x * (1.0f - sg));
    }
    lanes_matvec(H, H, net->w2, 1, H, NULL, g2, g1);
    for (long q = 0; q < H * LANES; q++) {
        float x = pre1[q], sg = sigmoid(x);
        g1[q] *= sg * (1.0f + x * (1.0f - sg));
    }
    lanes_matvec(FEATURES, H, net->w1, 1, FEATURES, NULL, g1, gf);
    for (int l = 0; l < LANES && j0 + l < T; l++) {
        long j = j0 + l;
        g_pressure[j] += gf[l];
        g[0] += gf[LANES + l];
        g_spacing[j] += gf[3 * LANES + l] / net->k[K_SCALE] + gf[4 * LANES + l] / s->radius;
        g[1] -= gf[4 * LANES + l] * s->spacing[j] / (s->radius * s->radius);
        g[2] += gf[5 * LANES + l] / (net->k[K_SIZE] * 1.5f);
        g[3] += gf[6 * LANES + l];
    }
}

/* Scratch floats a stroke needs: its path (Stroke) and the network's values for LANES dabs. */
static long scratch_floats(const Net *net)
{
    long T = net->dabs, O = 2 * net->components + 1;
    return 5 * T + 2 * net->hidden * LANES + 2 * O * LANES + 2 * T + 16;
}

static int valid(const Net *net)
{
    return net->dabs >= 2 && net->components >= 1 && 2 * net->components + 1 <= MAX_OUT && net->hidden >= 1
           && net->hidden <= MAX_HIDDEN;
}

CLONES
static void geometry_stroke(const Net *net, const float *action, const float *noise, float *scratch,
                            float *centres, float *rad, float *weight)
{
    long T = net->dabs, C = net->components, H = net->hidden, O = 2 * C + 1;
    Stroke s = {.t = scratch, .path = scratch + T, .step = scratch + 3 * T, .spacing = scratch + 4 * T};
    float *pre1 = scratch + 5 * T, *pre2 = pre1 + H * LANES, *out = pre2 + H * LANES;
    stroke_path(action, net, &s);
    for (long j0 = 0; j0 < T; j0 += LANES) {
        network(net, &s, j0, pre1, pre2, out);
        for (long l = 0; l < LANES && j0 + l < T; l++) {
            long j = j0 + l;
            float o[MAX_OUT];
            for (long q = 0; q < O; q++)
                o[q] = out[q * LANES + l];
            dab_forward(net, &s, j, o, noise ? noise + 2 * j : NULL, centres + 2 * j, rad + C * j, weight + C * j);
        }
    }
}

CLONES
static void geometry_grads_stroke(const Net *net, const float *action, const float *noise, float *scratch,
                                  const float *g_centres, const float *g_rad, const float *g_weight, float *g_action)
{
    long T = net->dabs, C = net->components, H = net->hidden, O = 2 * C + 1;
    Stroke s = {.t = scratch, .path = scratch + T, .step = scratch + 3 * T, .spacing = scratch + 4 * T};
    float *pre1 = scratch + 5 * T, *pre2 = pre1 + H * LANES, *out = pre2 + H * LANES, *g_out = out + O * LANES;
    float *g_pressure = g_out + O * LANES, *g_spacing = g_pressure + T;
    float g_p[6] = {0}, g[4] = {0}, g_radius = 0.0f;           /* g: size, radius, length, p1 - p0 */
    stroke_path(action, net, &s);
    for (long j = 0; j < T; j++)
        g_pressure[j] = g_spacing[j] = 0.0f;
    for (long j0 = 0; j0 < T; j0 += LANES) {
        network(net, &s, j0, pre1, pre2, out);
        for (long q = 0; q < O * LANES; q++)
            g_out[q] = 0.0f;
        for (long l = 0; l < LANES && j0 + l < T; l++) {
            long j = j0 + l;
            float o[MAX_OUT], go[MAX_OUT];
            for (long q = 0; q < O; q++)
                o[q] = out[q * LANES + l];
            dab_backward(net, &s, j, o, noise ? noise + 2 * j : NULL, g_centres + 2 * j, g_rad + C * j,
                         g_weight + C * j, go, g_p, g_pressure, g_spacing, &g_radius);
            for (long q = 0; q < O; q++)
                g_out[q * LANES + l] = go[q];
        }
        network_backward(net, &s, j0, pre1, pre2, g_out, g_pressure, g_spacing, g);
    }
    g_radius += g[1];
    float g_p0 = -g[3], g_p1 = g[3];
    for (long j = 0; j < T; j++) {
        g_p0 += g_pressure[j] * (1.0f - s.t[j]);
        g_p1 += g_pressure[j] * s.t[j];
    }
    for (long j = 0; j + 1 < T; j++) {          /* spacing_j = (step_j-1 + step_j) / 2; length = sum of steps */
        float g_step = 0.5f * (g_spacing[j] + g_spacing[j + 1]) + g[2];
        float gx = g_step * (s.path[2 * j + 2] - s.path[2 * j]) / s.step[j];
        float gy = g_step * (s.path[2 * j + 3] - s.path[2 * j + 1]) / s.step[j];
        float ta = s.t[j], tb = s.t[j + 1];
        float a0 = (1 - ta) * (1 - ta), a1 = 2 * (1 - ta) * ta, a2 = ta * ta;
        float b0 = (1 - tb) * (1 - tb), b1 = 2 * (1 - tb) * tb, b2 = tb * tb;
        g_p[0] += gx * (b0 - a0), g_p[1] += gy * (b0 - a0);
        g_p[2] += gx * (b1 - a1), g_p[3] += gy * (b1 - a1);
        g_p[4] += gx * (b2 - a2), g_p[5] += gy * (b2 - a2);
    }
    for (int q = 0; q < 12; q++)
        g_action[q] = 0.0f;
    g_action[0] = g_p0, g_action[1] = g_p1;
    g_action[2] = g[0] + g_radius * s.radius * net->k[K_LOG_RATIO];
    for (int q = 0; q < 6; q++)
        g_action[6 + q] = g_p[q] * net->k[K_SIZE];
}

#define NET_ARGUMENTS long T, long C, long H, const float *w1, const float *b1, const float *w2, const float *b2, \
    const float *w3, const float *b3, const float *k
#define NET {T, C, H, w1, b1, w2, b2, w3, b3, k}

/* Centres (n, T, 2), radii and inks (n, T, C) of strokes' dabs from actions (n, 12), on OpenMP's threads.
   Returns 0, -1 without memory, -2 for sizes it does not take. */
int dabs_geometry(long n, NET_ARGUMENTS, const float *actions, const float *noise, float *centres, float *rad,
                  float *weight)
{
    Net net = NET;
    long failed = valid(&net) ? 0 : 2;
    if (failed)
        return -2;
#pragma omp parallel if (n * T >= MIN_SHARE / 4) reduction(|:failed)
    {
        float *scratch = malloc(scratch_floats(&net) * sizeof(float));
#pragma omp for schedule(static)
        for (long i = 0; i < n; i++) {
            if (scratch)
                geometry_stroke(&net, actions + 12 * i, noise ? noise + 2 * T * i : NULL, scratch,
                                centres + 2 * T * i, rad + C * T * i, weight + C * T * i);
            else
                failed = 1;
        }
        free(scratch);
    }
    return failed ? -1 : 0;
}

/* The gradient of the actions (n, 12) from those of dabs_geometry's outputs. Returns as dabs_geometry. */
int dabs_geometry_grads(long n, NET_ARGUMENTS, const float *actions, const float *noise, const float *g_centres,
                        const float *g_rad, const float *g_weight, float *g_actions)
{
    Net net = NET;
    long failed = valid(&net) ? 0 : 2;
    if (failed)
        return -2;
#pragma omp parallel if (n * T >= MIN_SHARE / 4) reduction(|:failed)
    {
        float *scratch = malloc(scratch_floats(&net) * sizeof(float));
#pragma omp for schedule(static)
        for (long i = 0; i < n; i++) {
            if (scratch)
                geometry_grads_stroke(&net, actions + 12 * i, noise ? noise + 2 * T * i : NULL, scratch,
                                      g_centres + 2 * T * i, g_rad + C * T * i, g_weight + C * T * i,
                                      g_actions + 12 * i);
            else
                failed = 1;
        }
        free(scratch);
    }
    return failed ? -1 : 0;
}
