/* Paint many strokes with libmypaint in one call, so Python's lock is not taken between a stroke's
 * fifty-odd library calls and render threads run side by side. The stroke calls, their order and their
 * arguments are those of renderer.py's MyPaintRenderer._stroke and _Surface; the brush is set from its file
 * parsed once (new_brush) where _stroke parses it, and only the tiles a stroke changed are read back and
 * cleared (the pixels are the same bit for bit; tests/test_mypaint.py checks it). Only libmypaint's public API is used, declared here so no
 * development headers are needed; the symbols come from the libmypaint that Python loaded.
 *
 * Built by scripts/setup.sh:  cc -O2 -shared -fPIC _strokes.c -o _strokes.so
 */
#include <string.h>

typedef struct { int tx, ty, readonly; unsigned short *buffer; void *context; int thread_id, mipmap_level; } TileRequest;
typedef struct { int x, y, width, height; } Rectangle;

void *mypaint_brush_new(void);
void mypaint_brush_unref(void *brush);
void mypaint_brush_set_base_value(void *brush, int id, float value);
void mypaint_brush_set_mapping_n(void *brush, int id, int input, int n);
void mypaint_brush_set_mapping_point(void *brush, int id, int input, int index, float x, float y);
void mypaint_brush_set_state(void *brush, int state, float value);
void mypaint_brush_reset(void *brush);
void mypaint_brush_new_stroke(void *brush);
int mypaint_brush_stroke_to(void *brush, void *surface, float x, float y, float pressure, float xtilt,
                            float ytilt, double dtime);
void mypaint_surface_begin_atomic(void *surface);
void mypaint_surface_end_atomic(void *surface, Rectangle *roi);
void mypaint_tile_request_init(TileRequest *req, int level, int tx, int ty, int readonly);
void mypaint_tiled_surface_tile_request_start(void *tiled, TileRequest *req);
void mypaint_tiled_surface_tile_request_end(void *tiled, TileRequest *req);

#define TILE 64

/* A fresh brush set as mypaint_brush_from_string sets it from its brush file, without parsing the file (a
 * tenth of a stroke's time): for each of ``settings`` settings, ints (its id, its number of input mappings,
 * then each mapping's input id and number of points) and doubles (its base value, then each point's x, y). */
static void *new_brush(int settings, const int *ints, const double *doubles)
{
    void *brush = mypaint_brush_new();
    if (!brush)
        return NULL;
    for (int s = 0; s < settings; s++) {
        int id = *ints++, mappings = *ints++;
        mypaint_brush_set_base_value(brush, id, (float)*doubles++);
        for (int m = 0; m < mappings; m++) {
            int input = *ints++, points = *ints++;
            mypaint_brush_set_mapping_n(brush, id, input, points);
            for (int i = 0; i < points; i++, doubles += 2)
                mypaint_brush_set_mapping_point(brush, id, input, i, (float)doubles[0], (float)doubles[1]);
        }
    }
    return brush;
}

/* Grow the pixel rectangle [x0, x1) x [y0, y1) to hold ``rect`` (an empty one adds nothing). */
static void grow(const Rectangle *rect, int *x0, int *y0, int *x1, int *y1)
{
    if (rect->width <= 0 || rect->height <= 0)
        return;
    if (rect->x < *x0) *x0 = rect->x;
    if (rect->y < *y0) *y0 = rect->y;
    if (rect->x + rect->width > *x1) *x1 = rect->x + rect->width;
    if (rect->y + rect->height > *y1) *y1 = rect->y + rect->height;
}

/* ids: radius_logarithmic, color_h, color_s, color_v, then the states x, actual_x, y, actual_y.
 * The brush: ``settings``, ``brush_ints`` and ``brush_doubles`` of new_brush.
 * Per stroke k: log_radius[k], hsv[3k..], pressures[2k..] (start, end), warmup[k] and points path[2 p k..]
 * (x, y pairs). With alpha (n x size x size floats), each stroke is painted alone on the size-px
 * surface: its straight alpha is read into alpha and the tiles it touched cleared (libmypaint reports the
 * rectangle its dabs changed; the other tiles are still clear); with NULL they share the surface. */
int paint_strokes(void *fixed, void *iface, int size, int settings, const int *brush_ints,
                  const double *brush_doubles, const int *ids, int n, int points, const double *log_radius,
                  const double *hsv, const double *pressures, const int *warmup, double warmup_step,
                  const double *path, double dtime, float *alpha)
{
    int tiles = (size + TILE - 1) / TILE;
    for (int k = 0; k < n; k++) {
        void *brush = new_brush(settings, brush_ints, brush_doubles);
        Rectangle rect;
        int x0 = size, y0 = size, x1 = 0, y1 = 0;      /* what the dabs changed */
        const double *xy = path + 2 * (long)points * k;
        double p0 = pressures[2 * k], p1 = pressures[2 * k + 1];
        int last = points - 1;
        if (!brush)
            return -1;
        mypaint_brush_set_base_value(brush, ids[0], (float)log_radius[k]);
        for (int c = 0; c < 3; c++)
            mypaint_brush_set_base_value(brush, ids[1 + c], (float)hsv[3 * k + c]);
        if (warmup[k]) {
            mypaint_surface_begin_atomic(iface);
            mypaint_brush_stroke_to(brush, iface, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.01);
            mypaint_brush_stroke_to(brush, iface, (float)(warmup[k] * warmup_step), 0.0f, 0.0f, 0.0f, 0.0f, 0.01);
            mypaint_surface_end_atomic(iface, &rect);
            grow(&rect, &x0, &y0, &x1, &y1);
        }
        mypaint_brush_reset(brush);
        mypaint_brush_new_stroke(brush);
        mypaint_brush_set_state(brush, ids[4], (float)xy[0]);
        mypaint_brush_set_state(brush, ids[5], (float)xy[0]);
        mypaint_brush_set_state(brush, ids[6], (float)xy[1]);
        mypaint_brush_set_state(brush, ids[7], (float)xy[1]);
        mypaint_surface_begin_atomic(iface);
        mypaint_brush_stroke_to(brush, iface, (float)xy[0], (float)xy[1], 0.0f, 0.0f, 0.0f, dtime);
        for (int i = 0; i < points; i++)
            mypaint_brush_stroke_to(brush, iface, (float)xy[2 * i], (float)xy[2 * i + 1],
                                    (float)(p0 + (p1 - p0) * i / last), 0.0f, 0.0f, dtime);
        mypaint_surface_end_atomic(iface, &rect);
        grow(&rect, &x0, &y0, &x1, &y1);
        mypaint_brush_unref(brush);
        if (!alpha)                  /* strokes painted together on one canvas */
            continue;
        /* the stroke alone: read its alpha back where its dabs went, then clear those tiles */
        float *out = alpha + (long)size * size * k;
        memset(out, 0, sizeof(float) * size * size);
        for (int ty = 0; ty < tiles; ty++)
            for (int tx = 0; tx < tiles; tx++) {
                TileRequest req;
                if (x1 <= tx * TILE || x0 >= (tx + 1) * TILE || y1 <= ty * TILE || y0 >= (ty + 1) * TILE)
                    continue;
                mypaint_tile_request_init(&req, 0, tx, ty, 0);
                mypaint_tiled_surface_tile_request_start(fixed, &req);
                for (int y = 0; y < TILE && ty * TILE + y < size; y++)
                    for (int x = 0; x < TILE && tx * TILE + x < size; x++) {
                        float a = (float)req.buffer[4 * (y * TILE + x) + 3] * (1.0f / 32768.0f);
                        out[(ty * TILE + y) * size + tx * TILE + x] = a < 0.0f ? 0.0f : (a > 1.0f ? 1.0f : a);
                    }
                memset(req.buffer, 0, TILE * TILE * 4 * sizeof(unsigned short));
                mypaint_tiled_surface_tile_request_end(fixed, &req);
            }
    }
    return 0;
}
