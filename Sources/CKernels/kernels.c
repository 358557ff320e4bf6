#include "CKernels.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define GEN_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GEN_MULTIVERSION
#endif

// eˣ as GenCore's fastExp (Kernels+Activation.swift) computes it, in the same steps so the
// two agree to rounding: Cody–Waite reduction, Cephes' degree-6 polynomial, 2ⁿ from its bits.
static inline float fast_exp(float x) {
    float clamped = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    float shifted = clamped * 1.44269504f + 12582912.0f;
    float n = shifted - 12582912.0f;
    float r = clamped - n * 0.693359375f + n * 2.1219444e-4f;
    float p = 1.98756915e-4f;
    p = p * r + 1.39819995e-3f;
    p = p * r + 8.3334519e-3f;
    p = p * r + 4.16657959e-2f;
    p = p * r + 1.66666655e-1f;
    p = p * r + 5.00000012e-1f;
    float expR = p * r * r + r + 1;
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    int32_t exponent = (int32_t)((uint32_t)(bits - 0x4B400000 + 127) << 23);
    float scale;
    memcpy(&scale, &exponent, sizeof scale);
    float value = expR * scale;
    return x < -87.3f ? 0.0f : (x > 88.3f ? __builtin_inff() : (x != x ? x : value));
}

static inline float fast_sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }

GEN_MULTIVERSION
void gen_silu(const float *x, float *y, size_t count) {
    for (size_t i = 0; i < count; i++) y[i] = x[i] * fast_sigmoid(x[i]);
}

GEN_MULTIVERSION
void gen_silu_gradient(const float *g, const float *x, float *out, size_t count) {
    for (size_t i = 0; i < count; i++) {
        float s = fast_sigmoid(x[i]);
        out[i] = g[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

GEN_MULTIVERSION
void gen_adam_update(float *restrict parameter, const float *restrict gradient, float *restrict average,
                     float *restrict averageSquare, size_t count, float weight, int lerpFromStart, float beta2,
                     float l2, float shrink, float stepSize, float correction2Root, float epsilon) {
    // The same operations in the same order as the Swift loop this replaced (and as PyTorch's
    // single-tensor Adam): no fused multiply-adds, so every lane rounds as the scalar code does.
#pragma clang fp contract(off)
    for (size_t i = 0; i < count; i++) {
        float p = parameter[i], m = average[i];
        float grad = gradient[i] + l2 * p;
        float mi = lerpFromStart ? m + weight * (grad - m) : grad - (grad - m) * (1 - weight);
        float vi = averageSquare[i] * beta2 + (1 - beta2) * grad * grad;
        average[i] = mi;
        averageSquare[i] = vi;
        parameter[i] = p * shrink + -stepSize * (mi / (__builtin_elementwise_sqrt(vi) / correction2Root + epsilon));
    }
}
