#include "CKernels.h"
#include "cpu.h"
#include <stdlib.h>

#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define GEN_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GEN_MULTIVERSION
#endif

// The three tile transforms of Winograd's F(2×2, 3×3) (Lavin & Gray 2015) for a 3×3 kernel with
// one pixel of padding (output the size of the input), with
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   (input tile d ↦ Bᵀ d B)
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]                        (product tile m ↦ Aᵀ m A)
// and A (4×2) for an output-gradient tile g ↦ A g Aᵀ, the adjoint of the output transform.
//
// Each transform is separable and runs in two passes over one channel. The row pass applies the
// 1-D transform along every row of the plane into a small scratch, keeping rows of even and odd
// index apart. Then tile i = ty·tilesW + tx of the tile-row pass needs rows 2ty … 2ty + 3 of one
// tile column, and those sit at index i and i + tilesW of the even and odd scratch planes: the
// column pass is one flat loop over all tiles of the channel, with contiguous loads and stores,
// which the compiler vectorizes whatever the plane's width.

// On AVX-512 the transforms are written out instead: the row passes run over rows of 7 or 14
// tiles, shorter than a vector, reading columns in pairs, and the compiler turns them into gathers
// or scalar code. There each transform takes one row of up to 16 tiles at a time, in registers:
// masked loads of 32 columns, split into even and odd lanes by one permute each. Elsewhere (and
// after gen_kernels_set_portable(1), for the tests) the two-pass loops run.

#if GEN_HAS_AVX512_CODE
#define AVX512 GEN_AVX512

/// The lanes j of 16 whose column `first + j` lies in [0, width).
AVX512 static inline __mmask16 columns_mask(int first, int width) {
    return gen_first_lanes(width - first) & (__mmask16)~gen_first_lanes(-first);
}

/// The column masks of one chunk of 16 tiles from tile t in a row of `width` columns.
typedef struct {
    __mmask16 tiles;            // the chunk's tiles inside the row of tiles
    __mmask16 before[2];        // columns 2t − 1 … 2t + 30 (each tile's first column and the one before)
    __mmask16 after[2];         // columns 2t + 1 … 2t + 32
    __mmask16 pairs[2];         // columns 2t … 2t + 31
} chunk_masks;

AVX512 static inline chunk_masks masks_for(int t, int tiles, int width) {
    chunk_masks m;
    m.tiles = gen_first_lanes(tiles - t);
    m.before[0] = columns_mask(2 * t - 1, width), m.before[1] = columns_mask(2 * t + 15, width);
    m.after[0] = columns_mask(2 * t + 1, width), m.after[1] = columns_mask(2 * t + 17, width);
    m.pairs[0] = columns_mask(2 * t, width), m.pairs[1] = columns_mask(2 * t + 16, width);
    return m;
}

/// Even and odd lanes of 32 columns from `at`, those outside the row masked to zero.
AVX512 static inline void split32(const float *at, __mmask16 low, __mmask16 high, __m512 *even, __m512 *odd) {
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __m512 a = _mm512_maskz_loadu_ps(low, at), b = _mm512_maskz_loadu_ps(high, at + 16);
    *even = _mm512_permutex2var_ps(a, evens, b);
    *odd = _mm512_permutex2var_ps(a, odds, b);
}

/// d B along one input row for 16 tiles from tile t: tile tx reads columns 2tx − 1 … 2tx + 2.
AVX512 static inline void input_row(const float *line, int t, const chunk_masks *m, __m512 h[4]) {
    __m512 d0, d1, d2, d3;
    split32(line + 2 * t - 1, m->before[0], m->before[1], &d0, &d1);
    split32(line + 2 * t + 1, m->after[0], m->after[1], &d2, &d3);
    h[0] = _mm512_sub_ps(d0, d2);
    h[1] = _mm512_add_ps(d1, d2);
    h[2] = _mm512_sub_ps(d2, d1);
    h[3] = _mm512_sub_ps(d1, d3);
}

// The whole transforms on AVX-512, one row of up to 16 tiles at a time, in registers: the input
// transform keeps the two input rows a tile row shares with the next; nothing goes through scratch.

AVX512 static void input_avx512(const float *x, int channels, int height, int width,
                                int tilesH, int tilesW, float *v, size_t tapStride, size_t rowStride) {
    const __m512 zero = _mm512_setzero_ps();
    for (int t = 0; t < tilesW; t += 16) {
        const chunk_masks m = masks_for(t, tilesW, width);
        for (int c = 0; c < channels; c++) {
            const float *plane = x + (size_t)c * height * width;
            float *out = v + (size_t)c * rowStride + t;
            // rows 2ty − 1 and 2ty of the tile row (r0, r1), then 2ty + 1 and 2ty + 2 (r2, r3)
            __m512 r0[4] = {zero, zero, zero, zero}, r1[4], r2[4], r3[4];
            input_row(plane, t, &m, r1);
            for (int ty = 0; ty < tilesH; ty++) {
                int y = 2 * ty + 1;
                // the activations come from memory (a layer's output long evicted from this core's
                // cache), and masked loads do not start the hardware prefetcher: ask a few rows ahead
                const char *ahead = (const char *)(plane + (size_t)(y + 6) * width + 2 * t);
                _mm_prefetch(ahead, _MM_HINT_T0);
                _mm_prefetch(ahead + 64, _MM_HINT_T0);
                _mm_prefetch(ahead + 4 * width, _MM_HINT_T0);
                _mm_prefetch(ahead + 4 * width + 64, _MM_HINT_T0);
                if (y < height) input_row(plane + (size_t)y * width, t, &m, r2);
                else r2[0] = r2[1] = r2[2] = r2[3] = zero;
                if (y + 1 < height) input_row(plane + (size_t)(y + 1) * width, t, &m, r3);
                else r3[0] = r3[1] = r3[2] = r3[3] = zero;
                float *tile = out + (size_t)ty * tilesW;
                for (int b = 0; b < 4; b++) {
                    _mm512_mask_storeu_ps(tile + (size_t)b * tapStride, m.tiles, _mm512_sub_ps(r0[b], r2[b]));
                    _mm512_mask_storeu_ps(tile + (size_t)(4 + b) * tapStride, m.tiles, _mm512_add_ps(r1[b], r2[b]));
                    _mm512_mask_storeu_ps(tile + (size_t)(8 + b) * tapStride, m.tiles, _mm512_sub_ps(r2[b], r1[b]));
                    _mm512_mask_storeu_ps(tile + (size_t)(12 + b) * tapStride, m.tiles, _mm512_sub_ps(r1[b], r3[b]));
                    r0[b] = r2[b];
                    r1[b] = r3[b];
                }
            }
        }
    }
}

AVX512 static void output_avx512(const float *products, size_t tapStride, size_t rowStride, int channels,
                                 int height, int width, int tilesH, int tilesW, const float *bias, float *y) {
    const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for (int t = 0; t < tilesW; t += 16) {
        const chunk_masks m = masks_for(t, tilesW, width);
        for (int o = 0; o < channels; o++) {
            const __m512 add = _mm512_set1_ps(bias ? bias[o] : 0.0f);
            const float *tiles = products + (size_t)o * rowStride + t;
            float *plane = y + (size_t)o * height * width + 2 * t;
            for (int ty = 0; ty < tilesH; ty++) {
                // Aᵀ down the four rows of each tile column b: two rows q0[b], q1[b]
                __m512 q0[4], q1[4];
                for (int b = 0; b < 4; b++) {
                    const float *at = tiles + (size_t)ty * tilesW + (size_t)b * tapStride;
                    __m512 m0 = _mm512_maskz_loadu_ps(m.tiles, at), m1 = _mm512_maskz_loadu_ps(m.tiles, at + 4 * tapStride);
                    __m512 m2 = _mm512_maskz_loadu_ps(m.tiles, at + 8 * tapStride), m3 = _mm512_maskz_loadu_ps(m.tiles, at + 12 * tapStride);
                    q0[b] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                    q1[b] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
                }
                // Aᵀ along each row, the two columns of every tile interleaved into the plane
                for (int i = 0; i < 2 && 2 * ty + i < height; i++) {
                    const __m512 *q = i == 0 ? q0 : q1;
                    __m512 y0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(q[0], q[1]), q[2]), add);
                    __m512 y1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(q[1], q[2]), q[3]), add);
                    float *line = plane + (size_t)(2 * ty + i) * width;
                    _mm512_mask_storeu_ps(line, m.pairs[0], _mm512_permutex2var_ps(y0, low, y1));
                    _mm512_mask_storeu_ps(line + 16, m.pairs[1], _mm512_permutex2var_ps(y0, high, y1));
                }
            }
        }
    }
}

AVX512 static void gradient_avx512(const float *g, int channels, int height, int width,
                                   int tilesH, int tilesW, float *v, size_t tapStride, size_t rowStride) {
    const __m512 zero = _mm512_setzero_ps();
    for (int t = 0; t < tilesW; t += 16) {
        const chunk_masks m = masks_for(t, tilesW, width);
        for (int o = 0; o < channels; o++) {
            const float *plane = g + (size_t)o * height * width + 2 * t;
            float *out = v + (size_t)o * rowStride + t;
            for (int ty = 0; ty < tilesH; ty++) {
                // g Aᵀ along the tile's two rows: (e, o) ↦ (e, e + o, e − o, −o)
                __m512 c[2][4];
                for (int i = 0; i < 2; i++) {
                    __m512 e = zero, d = zero;
                    if (2 * ty + i < height) split32(plane + (size_t)(2 * ty + i) * width, m.pairs[0], m.pairs[1], &e, &d);
                    c[i][0] = e;
                    c[i][1] = _mm512_add_ps(e, d);
                    c[i][2] = _mm512_sub_ps(e, d);
                    c[i][3] = _mm512_sub_ps(zero, d);
                }
                // A down the two rows
                float *tile = out + (size_t)ty * tilesW;
                for (int b = 0; b < 4; b++) {
                    _mm512_mask_storeu_ps(tile + (size_t)b * tapStride, m.tiles, c[0][b]);
                    _mm512_mask_storeu_ps(tile + (size_t)(4 + b) * tapStride, m.tiles, _mm512_add_ps(c[0][b], c[1][b]));
                    _mm512_mask_storeu_ps(tile + (size_t)(8 + b) * tapStride, m.tiles, _mm512_sub_ps(c[0][b], c[1][b]));
                    _mm512_mask_storeu_ps(tile + (size_t)(12 + b) * tapStride, m.tiles, _mm512_sub_ps(zero, c[1][b]));
                }
            }
        }
    }
}
#else
static void input_avx512(const float *x, int channels, int height, int width,
                         int tilesH, int tilesW, float *v, size_t tapStride, size_t rowStride) {}
static void output_avx512(const float *products, size_t tapStride, size_t rowStride, int channels,
                          int height, int width, int tilesH, int tilesW, const float *bias, float *y) {}
static void gradient_avx512(const float *g, int channels, int height, int width,
                            int tilesH, int tilesW, float *v, size_t tapStride, size_t rowStride) {}
#endif

/// Scratch for the row passes: `floats` floats, 64-byte aligned, or NULL.
static float *scratch(size_t floats) {
    size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

GEN_MULTIVERSION
void gen_winograd_input(const float *x, int channels, int height, int width,
                        int tilesH, int tilesW, float *v, size_t tapStride, size_t rowStride) {
    if (gen_use_avx512()) {
        input_avx512(x, channels, height, width, tilesH, tilesW, v, tapStride, rowStride);
        return;
    }
    const int tw = tilesW, rows = tilesH + 1;  // padded rows 0 … 2·tilesH + 1, as `rows` even and `rows` odd
    const size_t plane = (size_t)rows * tw, tiles = (size_t)tilesH * tw;
    float *h = scratch(8 * plane);  // h[b][parity][q][tx]: row pass of padded row 2q + parity
    if (!h) abort();
    float even[tw + 1], odd[tw + 1];
    for (int c = 0; c < channels; c++) {
        const float *channel = x + (size_t)c * height * width;
        // 1. rows: with e[k] = x[2k] and o[k] = x[2k − 1] (zero outside the row), the window of
        //    tile column tx is (o[tx], e[tx], o[tx + 1], e[tx + 1]), and d B is
        //    (d0 − d2, d1 + d2, d2 − d1, d1 − d3)
        for (int p = 0; p < 2 * rows; p++) {
            float *h0 = h + ((size_t)(0 * 2 + p % 2) * rows + p / 2) * tw;
            float *h1 = h0 + 2 * plane, *h2 = h0 + 4 * plane, *h3 = h0 + 6 * plane;
            int y = p - 1;
            if (y < 0 || y >= height) {
                for (int t = 0; t < tw; t++) h0[t] = h1[t] = h2[t] = h3[t] = 0.0f;
                continue;
            }
            const float *line = channel + (size_t)y * width;
            for (int k = 0; k <= tw; k++) even[k] = odd[k] = 0.0f;
            for (int k = 0; k < width / 2; k++) {
                even[k] = line[2 * k];
                odd[k + 1] = line[2 * k + 1];
            }
            if (width % 2) even[width / 2] = line[width - 1];
            for (int t = 0; t < tw; t++) {
                float d0 = odd[t], d1 = even[t], d2 = odd[t + 1], d3 = even[t + 1];
                h0[t] = d0 - d2;
                h1[t] = d1 + d2;
                h2[t] = d2 - d1;
                h3[t] = d1 - d3;
            }
        }
        // 2. columns: Bᵀ down rows 2ty … 2ty + 3 of every tile at once
        float *out = v + (size_t)c * rowStride;
        for (int b = 0; b < 4; b++) {
            const float *e = h + (size_t)(b * 2) * plane, *o = e + plane;
            float *v0 = out + (size_t)b * tapStride, *v1 = out + (size_t)(4 + b) * tapStride;
            float *v2 = out + (size_t)(8 + b) * tapStride, *v3 = out + (size_t)(12 + b) * tapStride;
            for (size_t i = 0; i < tiles; i++) {
                float d0 = e[i], d1 = o[i], d2 = e[i + tw], d3 = o[i + tw];
                v0[i] = d0 - d2;
                v1[i] = d1 + d2;
                v2[i] = d2 - d1;
                v3[i] = d1 - d3;
            }
        }
    }
    free(h);
}

GEN_MULTIVERSION
void gen_winograd_output(const float *m, size_t tapStride, size_t rowStride, int channels,
                         int height, int width, int tilesH, int tilesW, const float *bias, float *y) {
    if (gen_use_avx512()) {
        output_avx512(m, tapStride, rowStride, channels, height, width, tilesH, tilesW, bias, y);
        return;
    }
    const int tw = tilesW;
    const size_t tiles = (size_t)tilesH * tw;
    float *r = scratch(8 * tiles);  // r[i][b][tile]: Aᵀ down each tile's four product rows
    if (!r) abort();
    for (int o = 0; o < channels; o++) {
        const float add = bias ? bias[o] : 0.0f;
        const float *products = m + (size_t)o * rowStride;
        // 1. columns: Aᵀ down the four rows of every tile at once
        for (int b = 0; b < 4; b++) {
            const float *m0 = products + (size_t)b * tapStride, *m1 = products + (size_t)(4 + b) * tapStride;
            const float *m2 = products + (size_t)(8 + b) * tapStride, *m3 = products + (size_t)(12 + b) * tapStride;
            float *r0 = r + (size_t)b * tiles, *r1 = r + (size_t)(4 + b) * tiles;
            for (size_t i = 0; i < tiles; i++) {
                r0[i] = m0[i] + m1[i] + m2[i];
                r1[i] = m1[i] - m2[i] - m3[i];
            }
        }
        // 2. rows: Aᵀ along each tile's two rows, the pairs of outputs interleaved into the plane
        float *plane = y + (size_t)o * height * width;
        for (int row = 0; row < height; row++) {
            const int ty = row / 2;
            const float *q = r + (size_t)(row % 2) * 4 * tiles + (size_t)ty * tw;
            const float *q0 = q, *q1 = q + tiles, *q2 = q + 2 * tiles, *q3 = q + 3 * tiles;
            float *line = plane + (size_t)row * width;
            for (int t = 0; t < width / 2; t++) {
                line[2 * t] = q0[t] + q1[t] + q2[t] + add;
                line[2 * t + 1] = q1[t] - q2[t] - q3[t] + add;
            }
            if (width % 2) {
                int t = width / 2;
                line[width - 1] = q0[t] + q1[t] + q2[t] + add;
            }
        }
    }
    free(r);
}

GEN_MULTIVERSION
void gen_winograd_gradient(const float *g, int channels, int height, int width,
                           int tilesH, int tilesW, float *v, size_t tapStride, size_t rowStride) {
    if (gen_use_avx512()) {
        gradient_avx512(g, channels, height, width, tilesH, tilesW, v, tapStride, rowStride);
        return;
    }
    const int tw = tilesW;
    const size_t tiles = (size_t)tilesH * tw;
    float *c = scratch(8 * tiles);  // c[b][parity][ty][tx]: g Aᵀ of gradient row 2ty + parity
    if (!c) abort();
    float even[tw], odd[tw];
    for (int o = 0; o < channels; o++) {
        const float *plane = g + (size_t)o * height * width;
        // 1. rows: (e, o) ↦ (e, e + o, e − o, −o) for each column pair, zero past the edge
        for (int row = 0; row < 2 * tilesH; row++) {
            float *c0 = c + ((size_t)(row % 2) * tilesH + row / 2) * tw;
            float *c1 = c0 + 2 * tiles, *c2 = c0 + 4 * tiles, *c3 = c0 + 6 * tiles;
            if (row >= height) {
                for (int t = 0; t < tw; t++) c0[t] = c1[t] = c2[t] = c3[t] = 0.0f;
                continue;
            }
            const float *line = plane + (size_t)row * width;
            for (int t = 0; t < width / 2; t++) {
                even[t] = line[2 * t];
                odd[t] = line[2 * t + 1];
            }
            if (width % 2) {
                even[tw - 1] = line[width - 1];
                odd[tw - 1] = 0.0f;
            }
            for (int t = 0; t < tw; t++) {
                c0[t] = even[t];
                c1[t] = even[t] + odd[t];
                c2[t] = even[t] - odd[t];
                c3[t] = -odd[t];
            }
        }
        // 2. columns: A down each tile's two rows, every tile at once
        float *out = v + (size_t)o * rowStride;
        for (int b = 0; b < 4; b++) {
            const float *e = c + (size_t)(b * 2) * tiles, *d = e + tiles;
            float *v0 = out + (size_t)b * tapStride, *v1 = out + (size_t)(4 + b) * tapStride;
            float *v2 = out + (size_t)(8 + b) * tapStride, *v3 = out + (size_t)(12 + b) * tapStride;
            for (size_t i = 0; i < tiles; i++) {
                float g0 = e[i], g1 = d[i];
                v0[i] = g0;
                v1[i] = g0 + g1;
                v2[i] = g0 - g1;
                v3[i] = -g1;
            }
        }
    }
    free(c);
}

// The weight transform and its adjoint, with
//   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]   (3×3 kernel g ↦ G g Gᵀ, 4×4)

/// G r for one 3-vector r (a row or a column of a kernel): the 4-vector the transform makes of it.
static inline void g_times(float r0, float r1, float r2, float out[4]) {
    out[0] = r0;
    out[1] = 0.5f * (r0 + r1 + r2);
    out[2] = 0.5f * (r0 - r1 + r2);
    out[3] = r2;
}

/// Gᵀ s for one 4-vector s: the adjoint of g_times.
static inline void gt_times(float s0, float s1, float s2, float s3, float out[3]) {
    out[0] = s0 + 0.5f * (s1 + s2);
    out[1] = 0.5f * (s1 - s2);
    out[2] = 0.5f * (s1 + s2) + s3;
}

void gen_winograd_weights(const float *w, int outChannels, int inChannels, int flipTranspose,
                          int firstOut, int endOut, float *u) {
    const size_t tapStride = (size_t)outChannels * inChannels;
    for (int o = firstOut; o < endOut; o++) {
        for (int c = 0; c < inChannels; c++) {
            const float *k = w + ((size_t)o * inChannels + c) * 9;
            float g[3][3];
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) g[i][j] = flipTranspose ? k[(2 - i) * 3 + (2 - j)] : k[i * 3 + j];
            // G g: each column of g becomes four rows; then (G g) Gᵀ: each row becomes four columns
            float columns[3][4], tile[4][4];
            for (int j = 0; j < 3; j++) g_times(g[0][j], g[1][j], g[2][j], columns[j]);
            for (int a = 0; a < 4; a++) g_times(columns[0][a], columns[1][a], columns[2][a], tile[a]);
            // tap (a, b) of the [16][O][C] layout, or of [16][C][O] for the adjoint's weights
            size_t at = flipTranspose ? (size_t)c * outChannels + o : (size_t)o * inChannels + c;
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++) u[(size_t)(4 * a + b) * tapStride + at] = tile[a][b];
        }
    }
}

void gen_winograd_weights_adjoint(const float *du, int outChannels, int inChannels, int firstOut, int endOut, float *dw) {
    const size_t tapStride = (size_t)outChannels * inChannels;
    for (int o = firstOut; o < endOut; o++) {
        for (int c = 0; c < inChannels; c++) {
            const size_t at = (size_t)o * inChannels + c;
            float rows[4][3], g[3][3];
            // Gᵀ dU G: each row of dU gives three columns, then each column gives three rows
            for (int a = 0; a < 4; a++)
                gt_times(du[(size_t)(4 * a) * tapStride + at], du[(size_t)(4 * a + 1) * tapStride + at],
                         du[(size_t)(4 * a + 2) * tapStride + at], du[(size_t)(4 * a + 3) * tapStride + at], rows[a]);
            for (int j = 0; j < 3; j++) {
                float column[3];
                gt_times(rows[0][j], rows[1][j], rows[2][j], rows[3][j], column);
                for (int i = 0; i < 3; i++) g[i][j] = column[i];
            }
            float *k = dw + at * 9;
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) k[i * 3 + j] = g[i][j];
        }
    }
}
