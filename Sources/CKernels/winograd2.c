#include "CKernels.h"
#include "cpu.h"

// Winograd F(2×2, 2×2) (Lavin & Gray 2015), for 4×4 stride-2 convolutions seen as 2×2 stride-1
// convolutions over their four stride phases (Kernels+StridedWinograd.swift), with
//   Bᵀ = [1 −1 0; 0 1 0; 0 −1 1]   (input tile d, 3×3 ↦ Bᵀ d B)
//   G  = [1 0; 1 1; 0 1]           (kernel g, 2×2 ↦ G g Gᵀ, 3×3)
//   Aᵀ = [1 1 0; 0 1 1]            (product tile m, 3×3 ↦ Aᵀ m A, 2×2)
// A is G, so the output gradient's transform A g Aᵀ is the kernel's, and the kernel gradient's
// Gᵀ dU G is the output's. Tile (ty, tx) of a transform covers outputs (2ty, 2tx) … (2ty + 1,
// 2tx + 1) and reads rows 2ty + offset … 2ty + offset + 2 of its input (columns alike), zero
// outside the plane. A transformed layout holds 9 matrices ("taps") `tapStride` floats apart; in
// each, channel k's tiles start at k·rowStride, tile (ty, tx) at ty·tilesW + tx.
//
// On AVX-512 a transform takes sixteen tiles of one channel at a time: each of the tile's nine
// (or four) pixels is one masked gather (or, from a plane of at most 64 floats, a lookup among
// the registers holding it), the arithmetic runs across the sixteen tiles, and the results are
// stored (or, for the output, scattered or assembled in registers) at once. Elsewhere, plain
// loops.

/// The 1-D transforms: Bᵀ x, G x (= A x) and Aᵀ x (= Gᵀ x).
#define B_T(x0, x1, x2, out) ((out)[0] = (x0) - (x1), (out)[1] = (x1), (out)[2] = (x2) - (x1))
#define G_X(x0, x1, out) ((out)[0] = (x0), (out)[1] = (x0) + (x1), (out)[2] = (x1))
#define A_T(x0, x1, x2, out) ((out)[0] = (x0) + (x1), (out)[1] = (x1) + (x2))

static void input_portable(const float *x, int channels, size_t channelStride, int height, int width, int offset,
                           int tilesH, int tilesW, float *v, size_t tapStride, size_t rowStride) {
    for (int k = 0; k < channels; k++) {
        const float *plane = x + (size_t)k * channelStride;
        for (int ty = 0; ty < tilesH; ty++) {
            for (int tx = 0; tx < tilesW; tx++) {
                float d[3][3], t[3][3], out[3];
                for (int r = 0; r < 3; r++) {
                    for (int s = 0; s < 3; s++) {
                        int y = 2 * ty + offset + r, c = 2 * tx + offset + s;
                        d[r][s] = (y >= 0 && y < height && c >= 0 && c < width) ? plane[(size_t)y * width + c] : 0.0f;
                    }
                }
                for (int r = 0; r < 3; r++) B_T(d[r][0], d[r][1], d[r][2], t[r]);
                float *tile = v + (size_t)k * rowStride + (size_t)ty * tilesW + tx;
                for (int b = 0; b < 3; b++) {
                    B_T(t[0][b], t[1][b], t[2][b], out);
                    for (int a = 0; a < 3; a++) tile[(size_t)(3 * a + b) * tapStride] = out[a];
                }
            }
        }
    }
}

static void output_portable(const float *m, size_t tapStride, size_t rowStride, int channels, int height, int width,
                            int tilesH, int tilesW, const float *bias, float *y, size_t channelStride) {
    for (int k = 0; k < channels; k++) {
        const float add = bias ? bias[k] : 0.0f;
        float *plane = y + (size_t)k * channelStride;
        for (int ty = 0; ty < tilesH; ty++) {
            for (int tx = 0; tx < tilesW; tx++) {
                const float *tile = m + (size_t)k * rowStride + (size_t)ty * tilesW + tx;
                float q[2][3], out[2];
                for (int b = 0; b < 3; b++) {
                    float column[2];
                    A_T(tile[(size_t)b * tapStride], tile[(size_t)(3 + b) * tapStride], tile[(size_t)(6 + b) * tapStride], column);
                    q[0][b] = column[0], q[1][b] = column[1];
                }
                for (int i = 0; i < 2; i++) {
                    A_T(q[i][0], q[i][1], q[i][2], out);
                    int row = 2 * ty + i;
                    if (row >= height) continue;
                    for (int j = 0; j < 2; j++)
                        if (2 * tx + j < width) plane[(size_t)row * width + 2 * tx + j] = out[j] + add;
                }
            }
        }
    }
}

static void gradient_portable(const float *g, int channels, int height, int width, int tilesH, int tilesW,
                              float *v, size_t tapStride, size_t rowStride) {
    for (int k = 0; k < channels; k++) {
        const float *plane = g + (size_t)k * height * width;
        for (int ty = 0; ty < tilesH; ty++) {
            for (int tx = 0; tx < tilesW; tx++) {
                float d[2][2], t[2][3], out[3];
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++) {
                        int row = 2 * ty + i, c = 2 * tx + j;
                        d[i][j] = (row < height && c < width) ? plane[(size_t)row * width + c] : 0.0f;
                    }
                for (int i = 0; i < 2; i++) G_X(d[i][0], d[i][1], t[i]);
                float *tile = v + (size_t)k * rowStride + (size_t)ty * tilesW + tx;
                for (int b = 0; b < 3; b++) {
                    G_X(t[0][b], t[1][b], out);
                    for (int a = 0; a < 3; a++) tile[(size_t)(3 * a + b) * tapStride] = out[a];
                }
            }
        }
    }
}

#if GEN_HAS_AVX512_CODE
#define AVX512 GEN_AVX512

/// Where pixel (r, s) of each of the sixteen tiles from `first` lies in a plane, and which lanes
/// read inside it (and belong to a tile at all).
typedef struct {
    __m512i index;
    __mmask16 inside;
} pixel_lanes;

AVX512 static pixel_lanes lanes_for(int first, int tiles, int tilesW, int height, int width, int offset, int r, int s) {
    int index[16];
    __mmask16 inside = 0;
    for (int lane = 0; lane < 16; lane++) {
        int t = first + lane, ty = t / tilesW, tx = t % tilesW;
        int y = 2 * ty + offset + r, c = 2 * tx + offset + s;
        index[lane] = 0;
        if (t < tiles && y >= 0 && y < height && c >= 0 && c < width) {
            index[lane] = y * width + c;
            inside |= (__mmask16)(1u << lane);
        }
    }
    return (pixel_lanes){_mm512_loadu_si512(index), inside};
}

// Planes of at most 64 floats (a DCGAN's 7×7 and 8×8) with at most 16 tiles: the plane sits in
// four registers, and each tile pixel is a lookup among them (two permutes and a blend), not a
// gather; the output is assembled in registers the same way instead of scattered.

/// Lanes that select entry `index` (< 64) of four registers, zero where not `inside`.
typedef struct {
    __m512i index;
    __mmask16 inside, upper;
} table_lanes;

AVX512 static table_lanes table_for(pixel_lanes pixel) {
    return (table_lanes){pixel.index, pixel.inside, _mm512_cmpge_epi32_mask(pixel.index, _mm512_set1_epi32(32))};
}

AVX512 static inline __m512 lookup64(const __m512 p[4], table_lanes l) {
    __m512 low = _mm512_permutex2var_ps(p[0], l.index, p[1]), high = _mm512_permutex2var_ps(p[2], l.index, p[3]);
    return _mm512_maskz_mov_ps(l.inside, _mm512_mask_blend_ps(l.upper, low, high));
}

AVX512 static inline void load64(const float *plane, int count, __m512 p[4]) {
    for (int q = 0; q < 4; q++) p[q] = _mm512_maskz_loadu_ps(gen_first_lanes(count - 16 * q), plane + 16 * q);
}

AVX512 static void input_avx512(const float *x, int channels, size_t channelStride, int height, int width, int offset,
                                int tilesH, int tilesW, float *v, size_t tapStride, size_t rowStride) {
    const int tiles = tilesH * tilesW;
    for (int first = 0; first < tiles; first += 16) {
        pixel_lanes pixel[3][3];
        for (int r = 0; r < 3; r++)
            for (int s = 0; s < 3; s++) pixel[r][s] = lanes_for(first, tiles, tilesW, height, width, offset, r, s);
        const __mmask16 store = gen_first_lanes(tiles - first);
        const int small = height * width <= 64 && tiles <= 16;
        table_lanes table[3][3];
        for (int r = 0; r < 3; r++)
            for (int s = 0; s < 3; s++) table[r][s] = table_for(pixel[r][s]);
        for (int k = 0; k < channels; k++) {
            const float *plane = x + (size_t)k * channelStride;
            __m512 t[3][3], registers[4];
            if (small) load64(plane, height * width, registers);
            for (int r = 0; r < 3; r++) {
                __m512 d[3];
                for (int s = 0; s < 3; s++)
                    d[s] = small ? lookup64(registers, table[r][s])
                                 : _mm512_mask_i32gather_ps(_mm512_setzero_ps(), pixel[r][s].inside, pixel[r][s].index, plane, 4);
                t[r][0] = _mm512_sub_ps(d[0], d[1]);
                t[r][1] = d[1];
                t[r][2] = _mm512_sub_ps(d[2], d[1]);
            }
            float *out = v + (size_t)k * rowStride + first;
            for (int b = 0; b < 3; b++) {
                _mm512_mask_storeu_ps(out + (size_t)b * tapStride, store, _mm512_sub_ps(t[0][b], t[1][b]));
                _mm512_mask_storeu_ps(out + (size_t)(3 + b) * tapStride, store, t[1][b]);
                _mm512_mask_storeu_ps(out + (size_t)(6 + b) * tapStride, store, _mm512_sub_ps(t[2][b], t[1][b]));
            }
        }
    }
}

AVX512 static void output_avx512(const float *m, size_t tapStride, size_t rowStride, int channels, int height, int width,
                                 int tilesH, int tilesW, const float *bias, float *y, size_t channelStride) {
    const int tiles = tilesH * tilesW;
    for (int first = 0; first < tiles; first += 16) {
        pixel_lanes pixel[2][2];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) pixel[i][j] = lanes_for(first, tiles, tilesW, height, width, 0, i, j);
        const __mmask16 load = gen_first_lanes(tiles - first);
        // small planes: output position p = 16q + lane takes lane t of result (2i + j), t its tile
        const int small = height * width <= 64 && tiles <= 16;
        table_lanes gather[4];
        if (small) {
            for (int q = 0; q < 4; q++) {
                int index[16];
                __mmask16 inside = 0;
                for (int lane = 0; lane < 16; lane++) {
                    int p = 16 * q + lane, row = p / width, column = p % width;
                    index[lane] = 0;
                    if (p < height * width) {
                        index[lane] = (row % 2 * 2 + column % 2) * 16 + (row / 2) * tilesW + column / 2;
                        inside |= (__mmask16)(1u << lane);
                    }
                }
                gather[q] = table_for((pixel_lanes){_mm512_loadu_si512(index), inside});
            }
        }
        for (int k = 0; k < channels; k++) {
            const __m512 add = _mm512_set1_ps(bias ? bias[k] : 0.0f);
            const float *tile = m + (size_t)k * rowStride + first;
            __m512 q[2][3];
            for (int b = 0; b < 3; b++) {
                __m512 m0 = _mm512_maskz_loadu_ps(load, tile + (size_t)b * tapStride);
                __m512 m1 = _mm512_maskz_loadu_ps(load, tile + (size_t)(3 + b) * tapStride);
                __m512 m2 = _mm512_maskz_loadu_ps(load, tile + (size_t)(6 + b) * tapStride);
                q[0][b] = _mm512_add_ps(m0, m1);
                q[1][b] = _mm512_add_ps(m1, m2);
            }
            float *plane = y + (size_t)k * channelStride;
            __m512 results[4];
            for (int i = 0; i < 2; i++) {
                results[2 * i] = _mm512_add_ps(_mm512_add_ps(q[i][0], q[i][1]), add);
                results[2 * i + 1] = _mm512_add_ps(_mm512_add_ps(q[i][1], q[i][2]), add);
            }
            if (small) {
                for (int r = 0; r < 4; r++) _mm512_mask_storeu_ps(plane + 16 * r, gather[r].inside, lookup64(results, gather[r]));
                continue;
            }
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    _mm512_mask_i32scatter_ps(plane, pixel[i][j].inside, pixel[i][j].index, results[2 * i + j], 4);
        }
    }
}

AVX512 static void gradient_avx512(const float *g, int channels, int height, int width, int tilesH, int tilesW,
                                   float *v, size_t tapStride, size_t rowStride) {
    const int tiles = tilesH * tilesW;
    for (int first = 0; first < tiles; first += 16) {
        pixel_lanes pixel[2][2];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) pixel[i][j] = lanes_for(first, tiles, tilesW, height, width, 0, i, j);
        const __mmask16 store = gen_first_lanes(tiles - first);
        const int small = height * width <= 64 && tiles <= 16;
        for (int k = 0; k < channels; k++) {
            const float *plane = g + (size_t)k * height * width;
            __m512 t[2][3], registers[4];
            if (small) load64(plane, height * width, registers);
            for (int i = 0; i < 2; i++) {
                __m512 d0 = small ? lookup64(registers, table_for(pixel[i][0]))
                                  : _mm512_mask_i32gather_ps(_mm512_setzero_ps(), pixel[i][0].inside, pixel[i][0].index, plane, 4);
                __m512 d1 = small ? lookup64(registers, table_for(pixel[i][1]))
                                  : _mm512_mask_i32gather_ps(_mm512_setzero_ps(), pixel[i][1].inside, pixel[i][1].index, plane, 4);
                t[i][0] = d0;
                t[i][1] = _mm512_add_ps(d0, d1);
                t[i][2] = d1;
            }
            float *out = v + (size_t)k * rowStride + first;
            for (int b = 0; b < 3; b++) {
                _mm512_mask_storeu_ps(out + (size_t)b * tapStride, store, t[0][b]);
                _mm512_mask_storeu_ps(out + (size_t)(3 + b) * tapStride, store, _mm512_add_ps(t[0][b], t[1][b]));
                _mm512_mask_storeu_ps(out + (size_t)(6 + b) * tapStride, store, t[1][b]);
            }
        }
    }
}
#else
static void input_avx512(const float *x, int channels, size_t channelStride, int height, int width, int offset,
                         int tilesH, int tilesW, float *v, size_t tapStride, size_t rowStride) {}
static void output_avx512(const float *m, size_t tapStride, size_t rowStride, int channels, int height, int width,
                          int tilesH, int tilesW, const float *bias, float *y, size_t channelStride) {}
static void gradient_avx512(const float *g, int channels, int height, int width, int tilesH, int tilesW,
                            float *v, size_t tapStride, size_t rowStride) {}
#endif

void gen_winograd2_input(const float *x, int channels, size_t channelStride, int height, int width, int offset,
                         int tilesH, int tilesW, float *v, size_t tapStride, size_t rowStride) {
    if (gen_use_avx512()) input_avx512(x, channels, channelStride, height, width, offset, tilesH, tilesW, v, tapStride, rowStride);
    else input_portable(x, channels, channelStride, height, width, offset, tilesH, tilesW, v, tapStride, rowStride);
}

void gen_winograd2_output(const float *m, size_t tapStride, size_t rowStride, int channels, int height, int width,
                          int tilesH, int tilesW, const float *bias, float *y, size_t channelStride) {
    if (gen_use_avx512()) output_avx512(m, tapStride, rowStride, channels, height, width, tilesH, tilesW, bias, y, channelStride);
    else output_portable(m, tapStride, rowStride, channels, height, width, tilesH, tilesW, bias, y, channelStride);
}

void gen_winograd2_gradient(const float *g, int channels, int height, int width, int tilesH, int tilesW,
                            float *v, size_t tapStride, size_t rowStride) {
    if (gen_use_avx512()) gradient_avx512(g, channels, height, width, tilesH, tilesW, v, tapStride, rowStride);
    else gradient_portable(g, channels, height, width, tilesH, tilesW, v, tapStride, rowStride);
}

void gen_winograd2_weight_planes(const float *planes, size_t count, int firstTap, int endTap, float *u) {
    // U[a'][b'] = Σ over a with G[a'][a] = 1 and b with G[b'][b] = 1 of plane (a, b): G's rows are
    // (1, 0), (1, 1), (0, 1)
    static const int uses[3][2] = {{1, 0}, {1, 1}, {0, 1}};
    for (int tap = firstTap; tap < endTap; tap++) {
        const int row = tap / 3, column = tap % 3;
        float *out = u + (size_t)tap * count;
        for (size_t i = 0; i < count; i++) out[i] = 0.0f;
        for (int a = 0; a < 2; a++) {
            for (int b = 0; b < 2; b++) {
                if (!uses[row][a] || !uses[column][b]) continue;
                const float *plane = planes + (size_t)(a * 2 + b) * count;
                for (size_t i = 0; i < count; i++) out[i] += plane[i];
            }
        }
    }
}

void gen_winograd2_weights_adjoint(const float *du, int outChannels, int inChannels, int firstOut, int endOut, float *dw) {
    const size_t tapStride = (size_t)outChannels * inChannels;
    for (int o = firstOut; o < endOut; o++) {
        for (int c = 0; c < inChannels; c++) {
            const size_t at = (size_t)o * inChannels + c;
            float rows[3][2];
            for (int a = 0; a < 3; a++)
                A_T(du[(size_t)(3 * a) * tapStride + at], du[(size_t)(3 * a + 1) * tapStride + at], du[(size_t)(3 * a + 2) * tapStride + at], rows[a]);
            float *k = dw + at * 4;
            for (int j = 0; j < 2; j++) {
                float column[2];
                A_T(rows[0][j], rows[1][j], rows[2][j], column);
                k[j] = column[0];
                k[2 + j] = column[1];
            }
        }
    }
}
