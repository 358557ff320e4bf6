#include "CKernels.h"
#include "cpu.h"

// Row copies of the strided convolutions: the column split and merge into and out of the phased
// layout (each input row goes into the phase of its even columns and the phase of its odd ones),
// and the unfolding of that layout into columns and its folding back. DCGAN rows are
// 14 or 28 wide, shorter than a vector or a vector and a half, so on AVX-512 one row is two
// masked loads, one permute per phase and two masked stores; elsewhere a plain loop.

#if GEN_HAS_AVX512_CODE
#define AVX512 GEN_AVX512

AVX512 static void split_avx512(const float *source, size_t sourceStride, int rows, int width,
                                float *even, float *odd, size_t targetStride) {
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int r = 0; r < rows; r++) {
        const float *line = source + r * sourceStride;
        float *e = even + r * targetStride, *o = odd + r * targetStride;
        for (int w = 0; w < width; w += 32) {
            __m512 low = _mm512_maskz_loadu_ps(gen_first_lanes(width - w), line + w);
            __m512 high = _mm512_maskz_loadu_ps(gen_first_lanes(width - w - 16), line + w + 16);
            int pairs = (width - w + 1) / 2, odd_count = (width - w) / 2;
            _mm512_mask_storeu_ps(e + w / 2, gen_first_lanes(pairs), _mm512_permutex2var_ps(low, evens, high));
            _mm512_mask_storeu_ps(o + w / 2, gen_first_lanes(odd_count), _mm512_permutex2var_ps(low, odds, high));
        }
    }
}

AVX512 static void merge_avx512(const float *even, const float *odd, size_t sourceStride, int rows, int width,
                                float *target, size_t targetStride) {
    const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for (int r = 0; r < rows; r++) {
        const float *e = even + r * sourceStride, *o = odd + r * sourceStride;
        float *line = target + r * targetStride;
        for (int w = 0; w < width; w += 32) {
            __m512 ev = _mm512_maskz_loadu_ps(gen_first_lanes((width - w + 1) / 2), e + w / 2);
            __m512 od = _mm512_maskz_loadu_ps(gen_first_lanes((width - w) / 2), o + w / 2);
            _mm512_mask_storeu_ps(line + w, gen_first_lanes(width - w), _mm512_permutex2var_ps(ev, low, od));
            _mm512_mask_storeu_ps(line + w + 16, gen_first_lanes(width - w - 16), _mm512_permutex2var_ps(ev, high, od));
        }
    }
}
#else
static void split_avx512(const float *source, size_t sourceStride, int rows, int width,
                         float *even, float *odd, size_t targetStride) {}
static void merge_avx512(const float *even, const float *odd, size_t sourceStride, int rows, int width,
                         float *target, size_t targetStride) {}
#endif

void gen_split_columns(const float *source, size_t sourceStride, int rows, int width,
                       float *even, float *odd, size_t targetStride) {
    if (gen_use_avx512()) {
        split_avx512(source, sourceStride, rows, width, even, odd, targetStride);
        return;
    }
    for (int r = 0; r < rows; r++) {
        const float *line = source + r * sourceStride;
        float *e = even + r * targetStride, *o = odd + r * targetStride;
        for (int w = 0; w + 1 < width; w += 2) {
            e[w / 2] = line[w];
            o[w / 2] = line[w + 1];
        }
        if (width % 2) e[width / 2] = line[width - 1];
    }
}

void gen_merge_columns(const float *even, const float *odd, size_t sourceStride, int rows, int width,
                       float *target, size_t targetStride) {
    if (gen_use_avx512()) {
        merge_avx512(even, odd, sourceStride, rows, width, target, targetStride);
        return;
    }
    for (int r = 0; r < rows; r++) {
        const float *e = even + r * sourceStride, *o = odd + r * sourceStride;
        float *line = target + r * targetStride;
        for (int w = 0; w + 1 < width; w += 2) {
            line[w] = e[w / 2];
            line[w + 1] = o[w / 2];
        }
        if (width % 2) line[width - 1] = e[width / 2];
    }
}

#if GEN_HAS_AVX512_CODE
AVX512 static void copy_rows_avx512(const float *source, size_t sourceStride, int rows, int width,
                                    float *target, size_t targetStride, int accumulate) {
    for (int r = 0; r < rows; r++) {
        const float *from = source + r * sourceStride;
        float *to = target + r * targetStride;
        for (int w = 0; w < width; w += 16) {
            __mmask16 lanes = gen_first_lanes(width - w);
            __m512 x = _mm512_maskz_loadu_ps(lanes, from + w);
            if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(lanes, to + w));
            _mm512_mask_storeu_ps(to + w, lanes, x);
        }
    }
}
#else
static void copy_rows_avx512(const float *source, size_t sourceStride, int rows, int width,
                             float *target, size_t targetStride, int accumulate) {}
#endif

void gen_copy_rows(const float *source, size_t sourceStride, int rows, int width, float *target, size_t targetStride) {
    if (gen_use_avx512()) {
        copy_rows_avx512(source, sourceStride, rows, width, target, targetStride, 0);
        return;
    }
    for (int r = 0; r < rows; r++)
        for (int w = 0; w < width; w++) target[r * targetStride + w] = source[r * sourceStride + w];
}

void gen_add_rows(const float *source, size_t sourceStride, int rows, int width, float *target, size_t targetStride) {
    if (gen_use_avx512()) {
        copy_rows_avx512(source, sourceStride, rows, width, target, targetStride, 1);
        return;
    }
    for (int r = 0; r < rows; r++)
        for (int w = 0; w < width; w++) target[r * targetStride + w] += source[r * sourceStride + w];
}
