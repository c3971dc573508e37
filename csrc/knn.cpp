// Fused exact k-nearest-neighbour search (Euclidean) and candidate refinement.
//
// knn_fused: for every query, the k base points with the smallest squared
// distance, never materialising the distance matrix. Loop nest (GEMM-like):
//
//   for each base block (NB points, packed once, shared by all threads)
//     parallel over query blocks (QB queries, packed per task, L2-resident)
//       for each base panel (NR points, L1-resident)
//         for each query micro-block (MR queries)
//           micro-kernel: MR x NR dot products in registers, v = |b|^2 - 2<q,b>,
//           SIMD compare against each query's running k-th best v;
//           heap update only for the (rare) survivors.
//
// Per query the base is visited in increasing index order and a candidate
// must be strictly better than the current worst, so among equal values the
// smaller index wins; each (query, base) value is computed by the same
// instruction sequence wherever it sits in a tile, so the result is identical
// for any thread count. The heaps live in the caller's output arrays. Extra
// memory: one packed base block plus one packed query block per thread, both
// bounded by `mem_bytes`.
//
// knn_refine: exact distances (double accumulation of (q - b)^2) for given
// candidate indices, sorted by (float32 distance, index), top k kept. Used as
// the last step of every backend so all report the same distances.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "knn_kernels.hpp"
#include "parallel.hpp"

namespace py = pybind11;

namespace redp {
namespace knn_detail {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int64_t kNoIndex = std::numeric_limits<int64_t>::max();

struct AlignedFree {
    void operator()(float* p) const { std::free(p); }
};
using FloatBuf = std::unique_ptr<float[], AlignedFree>;

inline FloatBuf alloc_floats(int64_t n) {
    size_t bytes = static_cast<size_t>(std::max<int64_t>(n, 16)) * sizeof(float);
    bytes = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    return FloatBuf(static_cast<float*>(p));
}

// (va, ia) is worse than (vb, ib): larger value, ties by larger index.
inline bool worse(float va, int64_t ia, float vb, int64_t ib) {
    return va > vb || (va == vb && ia > ib);
}

// Replace the root of the max-heap (worst entry on top) and sift down.
inline void heap_replace_top(float* hv, int64_t* hi, int k, float v, int64_t idx) {
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= k) break;
        if (c + 1 < k && worse(hv[c + 1], hi[c + 1], hv[c], hi[c])) ++c;
        if (!worse(hv[c], hi[c], v, idx)) break;
        hv[i] = hv[c];
        hi[i] = hi[c];
        i = c;
    }
    hv[i] = v;
    hi[i] = idx;
}

// Exact refinement of one query's candidates; `scratch` is reused.
inline void refine_one(const float* q, const float* base, int64_t nb, int d, const int64_t* cand,
                       int m, int k, int64_t self_idx, float* out_d, int64_t* out_i,
                       std::vector<std::pair<float, int64_t>>& scratch) {
    scratch.clear();
    for (int c = 0; c < m; ++c) {
        const int64_t j = cand[c];
        if (j < 0 || j >= nb || j == self_idx) continue;
        const float* b = base + j * static_cast<int64_t>(d);
        double s = 0.0;
        for (int t = 0; t < d; ++t) {
            const double diff = static_cast<double>(q[t]) - static_cast<double>(b[t]);
            s += diff * diff;
        }
        scratch.emplace_back(static_cast<float>(std::sqrt(s)), j);
    }
    std::sort(scratch.begin(), scratch.end());
    scratch.erase(std::unique(scratch.begin(), scratch.end()), scratch.end());
    const int n_ok = static_cast<int>(std::min<size_t>(scratch.size(), static_cast<size_t>(k)));
    for (int c = 0; c < n_ok; ++c) {
        out_d[c] = scratch[c].first;
        out_i[c] = scratch[c].second;
    }
    for (int c = n_ok; c < k; ++c) {
        out_d[c] = kInf;
        out_i[c] = -1;
    }
}

struct Blocking {
    int64_t nb_block;  // base points per packed block (multiple of NR)
    int64_t q_block;   // queries per task (multiple of MR)
};

template <class K>
Blocking choose_blocking(int64_t nq, int64_t nb, int d, int n_threads, int64_t mem_bytes) {
    // Base block: up to 4 MiB (L3-resident, shared); query block: up to 256 KiB
    // per thread (L2-resident). Both shrink to fit mem_bytes.
    const int64_t base_budget = std::max<int64_t>(std::min<int64_t>(int64_t(4) << 20, mem_bytes / 2), 1);
    const int64_t q_budget =
        std::max<int64_t>(std::min<int64_t>(int64_t(256) << 10, mem_bytes / (4 * std::max(n_threads, 1))), 1);
    const int64_t per_base_point = static_cast<int64_t>(d) * 4 + 4;
    int64_t nb_block = base_budget / per_base_point / K::NR * K::NR;
    nb_block = std::max<int64_t>(nb_block, K::NR);
    nb_block = std::min<int64_t>(nb_block, (nb + K::NR - 1) / K::NR * K::NR);
    int64_t q_block = q_budget / (static_cast<int64_t>(d) * 4 + 8) / K::MR * K::MR;
    q_block = std::max<int64_t>(std::min<int64_t>(q_block, 16 * K::MR), K::MR);
    // Enough tasks to keep every thread busy when there are few queries.
    const int64_t per_thread = (nq + std::max(n_threads, 1) - 1) / std::max(n_threads, 1);
    const int64_t fit = (per_thread + K::MR - 1) / K::MR * K::MR;
    q_block = std::max<int64_t>(std::min<int64_t>(q_block, fit), K::MR);
    return {nb_block, q_block};
}

template <class K>
void fused_search(const float* Q, int64_t nq, const float* B, int64_t nb, int d, int k,
                  bool self_join, int n_threads, int64_t mem_bytes, float* out_d, int64_t* out_i) {
    constexpr int MR = K::MR;
    constexpr int NR = K::NR;
    n_threads = resolve_threads(n_threads);
    // The blocking may depend on the thread count: every pair is computed by
    // the same instructions in any tile position, so results do not.
    const Blocking blk = choose_blocking<K>(nq, nb, d, n_threads, mem_bytes);
    const int64_t NB = blk.nb_block;
    const int64_t QB = blk.q_block;
    const int64_t n_qblocks = (nq + QB - 1) / QB;
    const int64_t dd = d;

    // Heaps in the output arrays: v values (squared distance minus |q|^2).
    for (int64_t i = 0; i < nq * k; ++i) {
        out_d[i] = kInf;
        out_i[i] = kNoIndex;
    }

    FloatBuf bpack = alloc_floats(NB * dd);
    FloatBuf bnorm = alloc_floats(NB);

    for (int64_t b0 = 0; b0 < nb; b0 += NB) {
        const int64_t nbb = std::min<int64_t>(NB, nb - b0);
        const int64_t n_panels = (nbb + NR - 1) / NR;
        float* bp_all = bpack.get();
        float* bn_all = bnorm.get();
        parallel_for((n_panels + 63) / 64, n_threads, [&](int64_t t) {
            const int64_t p_end = std::min<int64_t>((t + 1) * 64, n_panels);
            for (int64_t p = t * 64; p < p_end; ++p) {
                float* bp = bp_all + p * NR * dd;
                float* bn = bn_all + p * NR;
                for (int j = 0; j < NR; ++j) {
                    const int64_t gj = b0 + p * NR + j;
                    if (gj < b0 + nbb) {
                        const float* src = B + gj * dd;
                        float s = 0.0f;
                        for (int kk = 0; kk < d; ++kk) {
                            bp[kk * NR + j] = src[kk];
                            s += src[kk] * src[kk];
                        }
                        bn[j] = s;
                    } else {
                        for (int kk = 0; kk < d; ++kk) bp[kk * NR + j] = 0.0f;
                        bn[j] = kInf;
                    }
                }
            }
        });

        parallel_for(n_qblocks, n_threads, [&](int64_t t) {
            const int64_t q0 = t * QB;
            const int64_t nqb = std::min<int64_t>(QB, nq - q0);
            const int64_t n_micro = (nqb + MR - 1) / MR;
            FloatBuf qpack = alloc_floats(n_micro * MR * dd);
            FloatBuf thr = alloc_floats(n_micro * MR);
            alignas(64) float vbuf[MR * NR];
            uint32_t masks[MR];
            for (int64_t mi = 0; mi < n_micro; ++mi) {
                float* qp = qpack.get() + mi * MR * dd;
                for (int r = 0; r < MR; ++r) {
                    const int64_t gi = q0 + mi * MR + r;
                    if (gi < q0 + nqb) {
                        const float* src = Q + gi * dd;
                        for (int kk = 0; kk < d; ++kk) qp[kk * MR + r] = src[kk];
                        thr[mi * MR + r] = out_d[gi * k];
                    } else {
                        for (int kk = 0; kk < d; ++kk) qp[kk * MR + r] = 0.0f;
                        thr[mi * MR + r] = -kInf;
                    }
                }
            }
            for (int64_t p = 0; p < n_panels; ++p) {
                const float* bp = bp_all + p * NR * dd;
                const float* bn = bn_all + p * NR;
                const int64_t j0 = b0 + p * NR;
                for (int64_t mi = 0; mi < n_micro; ++mi) {
                    float* th = thr.get() + mi * MR;
                    if (!K::run(qpack.get() + mi * MR * dd, bp, bn, d, th, vbuf, masks)) continue;
                    for (int r = 0; r < MR; ++r) {
                        uint32_t m = masks[r];
                        if (!m) continue;
                        const int64_t gi = q0 + mi * MR + r;
                        float* hv = out_d + gi * k;
                        int64_t* hi = out_i + gi * k;
                        while (m) {
                            const int j = __builtin_ctz(m);
                            m &= m - 1;
                            const int64_t gj = j0 + j;
                            if (self_join && gj == gi) continue;
                            const float v = vbuf[r * NR + j];
                            if (worse(hv[0], hi[0], v, gj)) heap_replace_top(hv, hi, k, v, gj);
                        }
                        th[r] = hv[0];
                    }
                }
            }
        });
    }

    // Exact distances for the selected candidates, sorted.
    const int64_t chunk = 256;
    parallel_for((nq + chunk - 1) / chunk, n_threads, [&](int64_t t) {
        std::vector<std::pair<float, int64_t>> scratch;
        std::vector<int64_t> cand(static_cast<size_t>(k));
        const int64_t i_end = std::min<int64_t>((t + 1) * chunk, nq);
        for (int64_t i = t * chunk; i < i_end; ++i) {
            std::copy(out_i + i * k, out_i + (i + 1) * k, cand.begin());
            refine_one(Q + i * dd, B, nb, d, cand.data(), k, k, self_join ? i : -1, out_d + i * k,
                       out_i + i * k, scratch);
        }
    });
}

enum class Isa { Scalar = 0, AVX2 = 1, AVX512 = 2 };

inline Isa best_isa() {
#ifdef REDP_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return Isa::AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::AVX2;
#endif
    return Isa::Scalar;
}

inline const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::AVX512: return "avx512";
        case Isa::AVX2: return "avx2";
        default: return "scalar";
    }
}

inline Isa parse_isa(const std::string& s) {
    const Isa best = best_isa();
    Isa want;
    if (s == "auto") return best;
    if (s == "scalar") want = Isa::Scalar;
    else if (s == "avx2") want = Isa::AVX2;
    else if (s == "avx512") want = Isa::AVX512;
    else throw std::invalid_argument("isa must be 'auto', 'scalar', 'avx2' or 'avx512', got '" + s + "'");
    if (static_cast<int>(want) > static_cast<int>(best))
        throw std::invalid_argument(std::string("isa '") + s + "' is not supported by this CPU (best: " +
                                    isa_name(best) + ")");
    return want;
}

using F32Array = py::array_t<float, py::array::c_style>;
using I64Array = py::array_t<int64_t, py::array::c_style>;

void check_2d(const py::array& a, const char* what) {
    if (a.ndim() != 2) throw std::invalid_argument(std::string(what) + " must be 2-D");
}

std::string knn_fused_py(const F32Array& queries, const F32Array& base, int k, bool self_join,
                         int n_threads, int64_t mem_bytes, const std::string& isa_s, F32Array& out_d,
                         I64Array& out_i) {
    check_2d(queries, "queries");
    check_2d(base, "base");
    check_2d(out_d, "out_d");
    check_2d(out_i, "out_i");
    const int64_t nq = queries.shape(0), nb = base.shape(0);
    const int d = static_cast<int>(queries.shape(1));
    if (base.shape(1) != d) throw std::invalid_argument("queries and base differ in dimension");
    if (k < 1) throw std::invalid_argument("k must be >= 1");
    if (out_d.shape(0) != nq || out_d.shape(1) != k || out_i.shape(0) != nq || out_i.shape(1) != k)
        throw std::invalid_argument("output arrays must have shape (n_queries, k)");
    if (self_join && nb != nq) throw std::invalid_argument("self_join needs queries == base");
    const int64_t avail = self_join ? nb - 1 : nb;
    if (k > avail) throw std::invalid_argument("k exceeds the number of available neighbours");
    const Isa isa = parse_isa(isa_s);
    const float* Q = queries.data();
    const float* B = base.data();
    float* od = out_d.mutable_data();
    int64_t* oi = out_i.mutable_data();
    {
        py::gil_scoped_release release;
        switch (isa) {
#ifdef REDP_X86
            case Isa::AVX512:
                fused_search<KernelAVX512>(Q, nq, B, nb, d, k, self_join, n_threads, mem_bytes, od, oi);
                break;
            case Isa::AVX2:
                fused_search<KernelAVX2>(Q, nq, B, nb, d, k, self_join, n_threads, mem_bytes, od, oi);
                break;
#endif
            default:
                fused_search<KernelScalar>(Q, nq, B, nb, d, k, self_join, n_threads, mem_bytes, od, oi);
        }
    }
    return isa_name(isa);
}

void knn_refine_py(const F32Array& queries, const F32Array& base, const I64Array& cand, int k,
                   bool exclude_self, int n_threads, F32Array& out_d, I64Array& out_i) {
    check_2d(queries, "queries");
    check_2d(base, "base");
    check_2d(cand, "cand");
    const int64_t nq = queries.shape(0), nb = base.shape(0);
    const int d = static_cast<int>(queries.shape(1));
    if (base.shape(1) != d) throw std::invalid_argument("queries and base differ in dimension");
    if (cand.shape(0) != nq) throw std::invalid_argument("cand must have one row per query");
    if (k < 1) throw std::invalid_argument("k must be >= 1");
    if (out_d.shape(0) != nq || out_d.shape(1) != k || out_i.shape(0) != nq || out_i.shape(1) != k)
        throw std::invalid_argument("output arrays must have shape (n_queries, k)");
    const int m = static_cast<int>(cand.shape(1));
    const float* Q = queries.data();
    const float* B = base.data();
    const int64_t* C = cand.data();
    float* od = out_d.mutable_data();
    int64_t* oi = out_i.mutable_data();
    py::gil_scoped_release release;
    const int64_t chunk = 256;
    parallel_for((nq + chunk - 1) / chunk, n_threads, [&](int64_t t) {
        std::vector<std::pair<float, int64_t>> scratch;
        const int64_t i_end = std::min<int64_t>((t + 1) * chunk, nq);
        for (int64_t i = t * chunk; i < i_end; ++i)
            refine_one(Q + i * d, B, nb, d, C + i * m, m, k, exclude_self ? i : -1, od + i * k,
                       oi + i * k, scratch);
    });
}

}  // namespace knn_detail

void register_knn(py::module_& m) {
    using namespace knn_detail;
    m.def("knn_fused", &knn_fused_py, py::arg("queries"), py::arg("base"), py::arg("k"),
          py::arg("self_join"), py::arg("n_threads"), py::arg("mem_bytes"), py::arg("isa"),
          py::arg("out_d").noconvert(), py::arg("out_i").noconvert(),
          "Fused exact kNN (private; use redp.neighbors.knn). Writes sorted Euclidean distances "
          "and indices into out_d/out_i; returns the ISA used.");
    m.def("knn_refine", &knn_refine_py, py::arg("queries"), py::arg("base"), py::arg("cand"),
          py::arg("k"), py::arg("exclude_self"), py::arg("n_threads"), py::arg("out_d").noconvert(),
          py::arg("out_i").noconvert(),
          "Exact distances for candidate indices, sorted by (distance, index), top k kept "
          "(private). Invalid or missing candidates give (inf, -1).");
    m.def("knn_isa", []() { return std::string(isa_name(best_isa())); },
          "Best micro-kernel ISA this CPU supports: 'avx512', 'avx2' or 'scalar'.");
}

}  // namespace redp
