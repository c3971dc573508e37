// Register-tiled micro-kernels for the fused kNN search (csrc/knn.cpp).
//
// One micro-kernel call handles MR queries x NR base points over the full
// dimension d:
//
//   acc[r][j] = <q_r, b_j>                 (FMA, accumulators in registers)
//   v[r][j]   = ||b_j||^2 - 2 acc[r][j]    (squared distance minus ||q_r||^2)
//   mask[r]   = bits j with v[r][j] < thr[r]
//
// thr[r] is the running k-th best v of query r, so after the first few base
// panels almost every mask is zero and the candidates never leave registers.
// Only when some mask is non-zero are the v values stored to `vbuf` (row r
// at vbuf + r*NR) for the caller's heap update.
//
// Packed layouts (built by the caller):
//   qp: [d][MR]  queries of the micro-block, dimension-major
//   bp: [d][NR]  base points of the panel, dimension-major
//   bn: [NR]     squared norms of the panel (+inf for padding columns)
// Padding query rows carry thr = -inf, so they never produce candidates.
//
// Each kernel computes every (query, base) pair with the same instruction
// sequence whatever the tile position, so results do not depend on how the
// work is split between threads.
#pragma once

#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define REDP_X86 1
#include <immintrin.h>
#endif

namespace redp {
namespace knn_detail {

// Portable fallback: plain loops that the compiler vectorises with the
// baseline ISA (SSE2 on x86-64).
struct KernelScalar {
    static constexpr int MR = 4;
    static constexpr int NR = 16;
    static constexpr const char* name = "scalar";
    static bool run(const float* __restrict qp, const float* __restrict bp,
                    const float* __restrict bn, int d, const float* __restrict thr,
                    float* __restrict vbuf, uint32_t* __restrict masks) {
        float acc[MR][NR];
        for (int r = 0; r < MR; ++r)
            for (int j = 0; j < NR; ++j) acc[r][j] = 0.0f;
        for (int kk = 0; kk < d; ++kk) {
            const float* b = bp + static_cast<int64_t>(kk) * NR;
            for (int r = 0; r < MR; ++r) {
                const float a = qp[kk * MR + r];
                for (int j = 0; j < NR; ++j) acc[r][j] += a * b[j];
            }
        }
        bool any = false;
        for (int r = 0; r < MR; ++r) {
            uint32_t m = 0;
            float v[NR];
            for (int j = 0; j < NR; ++j) {
                v[j] = bn[j] - 2.0f * acc[r][j];
                m |= static_cast<uint32_t>(v[j] < thr[r]) << j;
            }
            masks[r] = m;
            if (m) {
                any = true;
                for (int j = 0; j < NR; ++j) vbuf[r * NR + j] = v[j];
            }
        }
        return any;
    }
};

#ifdef REDP_X86

// AVX2 + FMA: 6 x 16 tile, 12 ymm accumulators.
struct KernelAVX2 {
    static constexpr int MR = 6;
    static constexpr int NR = 16;
    static constexpr const char* name = "avx2";
    __attribute__((target("avx2,fma"))) static bool run(
        const float* __restrict qp, const float* __restrict bp, const float* __restrict bn, int d,
        const float* __restrict thr, float* __restrict vbuf, uint32_t* __restrict masks) {
        __m256 acc[MR][2];
#pragma GCC unroll 6
        for (int r = 0; r < MR; ++r) {
            acc[r][0] = _mm256_setzero_ps();
            acc[r][1] = _mm256_setzero_ps();
        }
        for (int kk = 0; kk < d; ++kk) {
            const __m256 b0 = _mm256_loadu_ps(bp + kk * NR);
            const __m256 b1 = _mm256_loadu_ps(bp + kk * NR + 8);
#pragma GCC unroll 6
            for (int r = 0; r < MR; ++r) {
                const __m256 a = _mm256_broadcast_ss(qp + kk * MR + r);
                acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
            }
        }
        const __m256 m2 = _mm256_set1_ps(-2.0f);
        const __m256 bn0 = _mm256_loadu_ps(bn);
        const __m256 bn1 = _mm256_loadu_ps(bn + 8);
        uint32_t any = 0;
#pragma GCC unroll 6
        for (int r = 0; r < MR; ++r) {
            const __m256 v0 = _mm256_fmadd_ps(acc[r][0], m2, bn0);
            const __m256 v1 = _mm256_fmadd_ps(acc[r][1], m2, bn1);
            const __m256 t = _mm256_broadcast_ss(thr + r);
            const uint32_t m =
                static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(v0, t, _CMP_LT_OQ))) |
                (static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(v1, t, _CMP_LT_OQ))) << 8);
            masks[r] = m;
            any |= m;
            if (m) {
                _mm256_storeu_ps(vbuf + r * NR, v0);
                _mm256_storeu_ps(vbuf + r * NR + 8, v1);
            }
        }
        return any != 0;
    }
};

// AVX-512F: 12 x 32 tile, 24 zmm accumulators.
struct KernelAVX512 {
    static constexpr int MR = 12;
    static constexpr int NR = 32;
    static constexpr const char* name = "avx512";
    __attribute__((target("avx512f,fma"))) static bool run(
        const float* __restrict qp, const float* __restrict bp, const float* __restrict bn, int d,
        const float* __restrict thr, float* __restrict vbuf, uint32_t* __restrict masks) {
        __m512 acc[MR][2];
#pragma GCC unroll 12
        for (int r = 0; r < MR; ++r) {
            acc[r][0] = _mm512_setzero_ps();
            acc[r][1] = _mm512_setzero_ps();
        }
        for (int kk = 0; kk < d; ++kk) {
            const __m512 b0 = _mm512_loadu_ps(bp + kk * NR);
            const __m512 b1 = _mm512_loadu_ps(bp + kk * NR + 16);
#pragma GCC unroll 12
            for (int r = 0; r < MR; ++r) {
                const __m512 a = _mm512_set1_ps(qp[kk * MR + r]);
                acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
            }
        }
        const __m512 m2 = _mm512_set1_ps(-2.0f);
        const __m512 bn0 = _mm512_loadu_ps(bn);
        const __m512 bn1 = _mm512_loadu_ps(bn + 16);
        uint32_t any = 0;
#pragma GCC unroll 12
        for (int r = 0; r < MR; ++r) {
            const __m512 v0 = _mm512_fmadd_ps(acc[r][0], m2, bn0);
            const __m512 v1 = _mm512_fmadd_ps(acc[r][1], m2, bn1);
            const __m512 t = _mm512_set1_ps(thr[r]);
            const uint32_t m =
                static_cast<uint32_t>(_mm512_cmp_ps_mask(v0, t, _CMP_LT_OQ)) |
                (static_cast<uint32_t>(_mm512_cmp_ps_mask(v1, t, _CMP_LT_OQ)) << 16);
            masks[r] = m;
            any |= m;
            if (m) {
                _mm512_storeu_ps(vbuf + r * NR, v0);
                _mm512_storeu_ps(vbuf + r * NR + 16, v1);
            }
        }
        return any != 0;
    }
};

#endif  // REDP_X86

}  // namespace knn_detail
}  // namespace redp
