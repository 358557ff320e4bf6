#ifndef GEN_CKERNELS_H
#define GEN_CKERNELS_H
// GenCore's kernels that need the CPU's wide vectors: element-wise ones (kernels.c: SiLU, Adam),
// the worker pool (pool.c), the convolutions' row copies (columns.c) and Winograd transforms
// (winograd.c, winograd2.c). Swift cannot target the CPU it runs on: its vector code is the
// baseline's (4-wide SSE) unless the whole package is built with -target-cpu, which a package
// used as a dependency cannot ask for. So the element-wise functions are built for AVX-512, AVX2
// and baseline x86-64 with the loader picking the widest the CPU has (function multiversioning),
// and the rest have hand-written AVX-512 paths chosen at run time (cpu.c) beside portable loops.
#include <stddef.h>

/// y[i] = x[i]·σ(x[i]).
void gen_silu(const float *x, float *y, size_t count);
/// out[i] = g[i]·σ(x[i])·(1 + x[i]·(1 − σ(x[i]))), SiLU's derivative times the incoming gradient.
void gen_silu_gradient(const float *g, const float *x, float *out, size_t count);

/// One Adam step over `count` elements in place (GenCore's `Adam.update` computes the scalars):
/// grad = g + l2·p; m ← lerp(m, grad, weight); v ← β₂·v + (1 − β₂)·grad²;
/// p ← shrink·p − stepSize · m / (√v / correction2Root + ε).
void gen_adam_update(float *parameter, const float *gradient, float *average, float *averageSquare, size_t count,
                     float weight, int lerpFromStart, float beta2, float l2, float shrink, float stepSize,
                     float correction2Root, float epsilon);

/// One task of a parallel region: `task` is 0 … tasks − 1.
typedef void (*gen_task_fn)(void *context, int task);
/// Runs fn(context, 0 … tasks − 1) on the calling thread and the pool's workers (Sources/CKernels/
/// pool.c), returning when all are done: 1. Returns 0 without running anything when `tasks` < 2
/// or another thread's region holds the pool; the caller then runs the tasks itself.
int gen_pool_run(int tasks, gen_task_fn fn, void *context);

/// Splits `rows` rows of `width` floats (`sourceStride` apart) into their even columns
/// (even[k] = row[2k]) and odd columns (odd[k] = row[2k + 1]), each target row `targetStride`
/// after the last (Sources/CKernels/columns.c).
void gen_split_columns(const float *source, size_t sourceStride, int rows, int width,
                       float *even, float *odd, size_t targetStride);
/// The inverse of gen_split_columns: row[2k] = even[k], row[2k + 1] = odd[k].
void gen_merge_columns(const float *even, const float *odd, size_t sourceStride, int rows, int width,
                       float *target, size_t targetStride);
/// Copies `rows` rows of `width` floats, `sourceStride` apart, to rows `targetStride` apart: the
/// strided convolutions' unfolding out of the phased layout (Sources/CKernels/columns.c).
void gen_copy_rows(const float *source, size_t sourceStride, int rows, int width, float *target, size_t targetStride);
/// As gen_copy_rows, adding to the target rows: the strided convolutions' folding back.
void gen_add_rows(const float *source, size_t sourceStride, int rows, int width, float *target, size_t targetStride);

// Winograd F(2×2, 3×3) transforms for a 3×3 kernel with one pixel of padding
// (Sources/CKernels/winograd.c). A plane [height, width] has ⌈height/2⌉ × ⌈width/2⌉ tiles of 2×2
// outputs. A transformed layout holds 16 matrices ("taps") `tapStride` floats apart; in each,
// channel k's tiles start at k·rowStride, tile (ty, tx) at ty·tilesW + tx.

/// With `portable` non-zero, the transforms take their portable loops even where AVX-512 code
/// exists (for tests that check both; the results are the same either way).
void gen_kernels_set_portable(int portable);
/// 1 when the kernels have AVX-512 code and this CPU runs it: only then do the vector and the
/// portable paths differ.
int gen_kernels_have_avx512(void);

/// Bᵀ d B of every 4×4 input tile of `channels` planes [height, width]; tile (ty, tx) reads rows
/// 2ty − 1 … 2ty + 2 and columns 2tx − 1 … 2tx + 2, zero outside the plane.
void gen_winograd_input(const float *x, int channels, int height, int width,
                        int tilesH, int tilesW, float *v, size_t tapStride, size_t rowStride);
/// Aᵀ m A of every tile (+ bias[k], if given), written into `channels` planes [height, width]:
/// tile (ty, tx) gives the 2×2 outputs at (2ty, 2tx); those past the plane's edge are dropped.
void gen_winograd_output(const float *m, size_t tapStride, size_t rowStride, int channels,
                         int height, int width, int tilesH, int tilesW, const float *bias, float *y);
/// A g Aᵀ of every 2×2 tile of `channels` gradient planes [height, width] (zero past the edge):
/// the adjoint of the output transform, for the weight gradient.
void gen_winograd_gradient(const float *g, int channels, int height, int width,
                           int tilesH, int tilesW, float *v, size_t tapStride, size_t rowStride);
/// G g Gᵀ of the 3×3 kernels of output channels firstOut ..< endOut of `w` [outChannels,
/// inChannels, 3, 3], into `u` as 16 matrices [outChannels, inChannels]; with `flipTranspose`, of
/// the kernels turned half a turn, into 16 matrices [inChannels, outChannels]: the weights of the
/// input gradient as a convolution.
void gen_winograd_weights(const float *w, int outChannels, int inChannels, int flipTranspose,
                          int firstOut, int endOut, float *u);
/// Gᵀ dU G of the tiles of output channels firstOut ..< endOut of `du` (16 matrices
/// [outChannels, inChannels]), into `dw` [outChannels, inChannels, 3, 3]: the adjoint of the
/// weight transform.
void gen_winograd_weights_adjoint(const float *du, int outChannels, int inChannels, int firstOut, int endOut, float *dw);

// Winograd F(2×2, 2×2) for 4×4 stride-2 convolutions over their stride phases
// (Sources/CKernels/winograd2.c). 9 matrices ("taps") `tapStride` floats apart; in each, channel
// k's tiles start at k·rowStride, tile (ty, tx) at ty·tilesW + tx; a tile covers 2×2 outputs.

/// Bᵀ d B of every 3×3 tile of `channels` planes [height, width] (`channelStride` apart); tile
/// (ty, tx) reads rows 2ty + offset … 2ty + offset + 2 and the same columns, zero outside.
void gen_winograd2_input(const float *x, int channels, size_t channelStride, int height, int width, int offset,
                         int tilesH, int tilesW, float *v, size_t tapStride, size_t rowStride);
/// Aᵀ m A of every tile (+ bias[k], if given) into `channels` planes [height, width]
/// (`channelStride` apart); outputs past the plane's edge are dropped.
void gen_winograd2_output(const float *m, size_t tapStride, size_t rowStride, int channels, int height, int width,
                          int tilesH, int tilesW, const float *bias, float *y, size_t channelStride);
/// A g Aᵀ of every 2×2 tile of `channels` gradient planes [height, width], zero past the edge.
void gen_winograd2_gradient(const float *g, int channels, int height, int width, int tilesH, int tilesW,
                            float *v, size_t tapStride, size_t rowStride);
/// G g Gᵀ of every 2×2 kernel, given as four planes of `count` floats (plane a·2 + b holds every
/// kernel's position (a, b)), into taps firstTap ..< endTap of 9 planes of `count` floats.
void gen_winograd2_weight_planes(const float *planes, size_t count, int firstTap, int endTap, float *u);
/// Gᵀ dU G of output channels firstOut ..< endOut: 9 matrices [outChannels, inChannels] into
/// `dw` [outChannels, inChannels, 2, 2].
void gen_winograd2_weights_adjoint(const float *du, int outChannels, int inChannels, int firstOut, int endOut, float *dw);
#endif
