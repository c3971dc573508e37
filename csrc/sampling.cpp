// Exact discrete Gaussian sampler (Canonne, Kamath & Steinke 2020, "The
// Discrete Gaussian for Differential Privacy", Algorithm 3) and secure
// continuous samplers. Private: the Python layer (redp.mechanisms) validates
// arguments, turns sigma into the exact rational sigma^2 = num / 2^m (rounded
// up) and documents everything.
//
// All arithmetic in the discrete sampler is on integers: Bernoulli(p) for a
// rational p = r / D is decided by comparing random bits with the binary
// expansion of r / D (long division, about two bits per call); Bernoulli(exp(-x))
// uses the exact method of CKS (Bernoulli(x/k) chains); the proposal is a
// discrete Laplace of integer scale t = floor(sigma) + 1. Products that may
// exceed 64 bits use unsigned __int128; the squared tail distance, which can
// exceed 128 bits for far-out candidates, falls back to exact 256-bit
// arithmetic.
//
// Parameter bounds (enforced in Python and re-checked here): num < 2^62,
// m <= 61, sigma^2 <= 2^60. Then t * 2^m < 2^62, |candidate| < 2^63 and the
// acceptance denominator D = 2 num t^2 2^m < 2^124, so r << 1 never overflows.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>

#include "parallel.hpp"
#include "sampling_random.hpp"

namespace py = pybind11;

namespace redp {
namespace {

using rnd::u128;
using rnd::u64;
using i64 = std::int64_t;

constexpr i64 kBlock = 8192;  // samples per block: fixed, so output is thread-count independent

u64 isqrt64(u64 v) {
    u64 r = static_cast<u64>(std::sqrt(static_cast<double>(v)));
    while (r > 0 && static_cast<u128>(r) * r > v) --r;
    while (static_cast<u128>(r + 1) * (r + 1) <= v) ++r;
    return r;
}

// 128 x 128 -> 256-bit product, little-endian 64-bit limbs.
void mul_128(u128 a, u128 b, u64 out[4]) {
    const u64 a0 = static_cast<u64>(a), a1 = static_cast<u64>(a >> 64);
    const u64 b0 = static_cast<u64>(b), b1 = static_cast<u64>(b >> 64);
    const u128 p00 = static_cast<u128>(a0) * b0, p01 = static_cast<u128>(a0) * b1;
    const u128 p10 = static_cast<u128>(a1) * b0, p11 = static_cast<u128>(a1) * b1;
    const u128 mid = (p00 >> 64) + static_cast<u64>(p01) + static_cast<u64>(p10);
    const u128 hi = (mid >> 64) + (p01 >> 64) + (p10 >> 64) + p11;
    out[0] = static_cast<u64>(p00);
    out[1] = static_cast<u64>(mid);
    out[2] = static_cast<u64>(hi);
    out[3] = static_cast<u64>(hi >> 64);
}

// x (256 bits) = q * d + r, d in [1, 2^127). Bitwise long division.
u128 divmod_256(const u64 x[4], u128 d, u64 q[4]) {
    u128 rem = 0;
    q[0] = q[1] = q[2] = q[3] = 0;
    for (int i = 255; i >= 0; --i) {
        rem = (rem << 1) | ((x[i >> 6] >> (i & 63)) & 1u);
        if (rem >= d) {
            rem -= d;
            q[i >> 6] |= u64{1} << (i & 63);
        }
    }
    return rem;
}

struct DgParams {
    u64 num;
    int m;
    u64 t;
    u128 t_den;
    u128 d;
};

template <class Source>
class DiscreteSampler {
   public:
    using Bits = rnd::BitStream<Source>;
    explicit DiscreteSampler(Bits& bits) : b_(bits) {}

    // Bernoulli(r / d), 0 <= r, 1 <= d < 2^127: compare a uniform U = 0.u1u2...
    // with the binary expansion of r / d, bit by bit.
    bool bernoulli(u128 r, u128 d) {
        if (r == 0) return false;
        if (r >= d) return true;
        for (;;) {
            r <<= 1;
            unsigned pb = 0;
            if (r >= d) {
                r -= d;
                pb = 1;
            }
            const unsigned ub = b_.bit();
            if (ub != pb) return ub < pb;
            if (r == 0) return false;
        }
    }

    // Bernoulli(exp(-r/d)) for 0 <= r <= d (CKS Algorithm 1, x in [0, 1]).
    bool bexp1(u128 r, u128 d) {
        u64 k = 1;
        while (bernoulli(r, d) && bernoulli(1, k)) ++k;
        return (k & 1u) == 1u;
    }

    // Bernoulli(exp(-(q + r/d))), q a 128-bit integer part, 0 <= r < d.
    bool bexp(u128 q, u128 r, u128 d) {
        for (; q > 0; --q)
            if (!bexp1(1, 1)) return false;
        return bexp1(r, d);
    }

    // Same with a 256-bit integer part (only reached for far-tail candidates).
    bool bexp_wide(u64 q[4], u128 r, u128 d) {
        for (;;) {
            if ((q[0] | q[1] | q[2] | q[3]) == 0) break;
            if (!bexp1(1, 1)) return false;
            for (int i = 0; i < 4; ++i)  // decrement the 256-bit counter
                if (q[i]-- != 0) break;
        }
        return bexp1(r, d);
    }

    // Discrete Laplace with P(y) proportional to exp(-|y| / t) (CKS Algorithm 2).
    i64 dlaplace(u64 t) {
        for (;;) {
            const unsigned sign = b_.bit();
            u64 u;
            do {
                u = b_.uniform(t);
            } while (!bexp1(u, t));
            u64 v = 0;
            while (bexp1(1, 1)) ++v;
            const u128 mag = static_cast<u128>(t) * v + u;
            if (mag >= (u128{1} << 63))  // probability < exp(-2^32): never in practice
                throw std::overflow_error("discrete Laplace magnitude overflowed int64");
            if (sign && mag == 0) continue;
            return sign ? -static_cast<i64>(mag) : static_cast<i64>(mag);
        }
    }

    // Discrete Gaussian with sigma^2 = num / 2^m (CKS Algorithm 3).
    i64 dgauss(const DgParams& p) {
        const u64 num = p.num;
        const u128 t_den = p.t_den, d = p.d;
        for (;;) {
            const i64 c = dlaplace(p.t);
            const u64 ac = c < 0 ? static_cast<u64>(-(c + 1)) + 1 : static_cast<u64>(c);
            // bias = (|c| - sigma^2/t)^2 / (2 sigma^2) = a^2 / d
            const u128 prod = t_den * ac;  // t 2^m |c| < 2^62 * 2^63
            const u128 a = prod >= num ? prod - num : static_cast<u128>(num) - prod;
            bool accept;
            if ((a >> 64) == 0) {
                const u128 a2 = a * a;
                accept = bexp(a2 / d, a2 % d, d);
            } else {
                u64 sq[4], q[4];
                mul_128(a, a, sq);
                const u128 r = divmod_256(sq, d, q);
                accept = bexp_wide(q, r, d);
            }
            if (accept) return c;
        }
    }

   private:
    Bits& b_;
};

DgParams make_params(u64 num, int m) {
    if (num == 0 || num >= (u64{1} << 62) || m < 0 || m > 61)
        throw std::invalid_argument("discrete Gaussian: need 0 < num < 2^62 and 0 <= m <= 61");
    const u64 whole = num >> m;  // floor(sigma^2)
    if (whole > (u64{1} << 60)) throw std::invalid_argument("discrete Gaussian: sigma^2 > 2^60");
    DgParams p;
    p.num = num;
    p.m = m;
    p.t = isqrt64(whole) + 1;
    p.t_den = static_cast<u128>(p.t) << m;
    p.d = (static_cast<u128>(num) * (static_cast<u128>(p.t) * p.t)) << (m + 1);
    if (p.t_den >= (u128{1} << 63) || p.d >= (u128{1} << 126) || p.d == 0)
        throw std::invalid_argument("discrete Gaussian: parameters out of the exact range");
    return p;
}

template <class Source, class MakeBits>
void fill_dgauss(i64* out, i64 n, const DgParams& p, int n_threads, MakeBits make_bits) {
    const i64 n_blocks = (n + kBlock - 1) / kBlock;
    parallel_for(n_blocks, n_threads, [&](i64 blk) {
        auto bits = make_bits(static_cast<u64>(blk));
        DiscreteSampler<Source> s(*bits);
        const i64 lo = blk * kBlock, hi = std::min(n, lo + kBlock);
        for (i64 i = lo; i < hi; ++i) out[i] = s.dgauss(p);
    });
}

py::array_t<i64> dgauss_seeded(i64 n, u64 num, int m, u64 seed, int n_threads) {
    if (n < 0) throw std::invalid_argument("n must be >= 0");
    const DgParams p = make_params(num, m);
    py::array_t<i64> out(n);
    i64* ptr = out.mutable_data();
    {
        py::gil_scoped_release release;
        using Src = rnd::SeededSource;
        fill_dgauss<Src>(ptr, n, p, n_threads, [seed](u64 blk) {
            return std::make_unique<rnd::BitStream<Src>>(seed, blk);
        });
    }
    return out;
}

py::array_t<i64> dgauss_secure(i64 n, u64 num, int m, int n_threads) {
    if (n < 0) throw std::invalid_argument("n must be >= 0");
    const DgParams p = make_params(num, m);
    py::array_t<i64> out(n);
    i64* ptr = out.mutable_data();
    {
        py::gil_scoped_release release;
        using Src = rnd::OsSource;
        fill_dgauss<Src>(ptr, n, p, n_threads,
                         [](u64) { return std::make_unique<rnd::BitStream<Src>>(); });
    }
    return out;
}

// Standard normals from OS random bytes: Box-Muller on open-interval 53-bit
// uniforms. Continuous noise: NOT floating-point safe (Mironov 2012).
py::array_t<double> normal_secure(i64 n, int n_threads) {
    if (n < 0) throw std::invalid_argument("n must be >= 0");
    py::array_t<double> out(n);
    double* ptr = out.mutable_data();
    {
        py::gil_scoped_release release;
        const i64 n_blocks = (n + kBlock - 1) / kBlock;
        parallel_for(n_blocks, n_threads, [&](i64 blk) {
            rnd::BitStream<rnd::OsSource> bits;
            const i64 lo = blk * kBlock, hi = std::min(n, lo + kBlock);
            constexpr double two_pi = 6.283185307179586476925286766559;
            for (i64 i = lo; i < hi; i += 2) {
                const double u1 = bits.open_unit(), u2 = bits.open_unit();
                const double r = std::sqrt(-2.0 * std::log(u1));
                ptr[i] = r * std::cos(two_pi * u2);
                if (i + 1 < hi) ptr[i + 1] = r * std::sin(two_pi * u2);
            }
        });
    }
    return out;
}

// Uniform doubles in (0, 1) from OS random bytes.
py::array_t<double> uniform_secure(i64 n) {
    if (n < 0) throw std::invalid_argument("n must be >= 0");
    py::array_t<double> out(n);
    double* ptr = out.mutable_data();
    {
        py::gil_scoped_release release;
        rnd::BitStream<rnd::OsSource> bits;
        for (i64 i = 0; i < n; ++i) ptr[i] = bits.open_unit();
    }
    return out;
}

// ---- test hooks (private) ---------------------------------------------------

// Number of successes among n draws of Bernoulli(exp(-x_num / x_den)).
u64 bexp_count(u64 x_num, u64 x_den, u64 n, u64 seed) {
    if (x_den == 0) throw std::invalid_argument("x_den must be >= 1");
    py::gil_scoped_release release;
    rnd::BitStream<rnd::SeededSource> bits(seed, 0);
    DiscreteSampler<rnd::SeededSource> s(bits);
    u64 hits = 0;
    for (u64 i = 0; i < n; ++i) hits += s.bexp(x_num / x_den, x_num % x_den, x_den);
    return hits;
}

// (a^2 // d, a^2 % d) through the 256-bit path; a, d given as (hi, lo) halves.
py::tuple square_divmod(u64 a_hi, u64 a_lo, u64 d_hi, u64 d_lo) {
    const u128 a = (static_cast<u128>(a_hi) << 64) | a_lo;
    const u128 d = (static_cast<u128>(d_hi) << 64) | d_lo;
    if (d == 0 || (d >> 127) != 0) throw std::invalid_argument("need 1 <= d < 2^127");
    u64 sq[4], q[4];
    mul_128(a, a, sq);
    const u128 r = divmod_256(sq, d, q);
    return py::make_tuple(py::make_tuple(q[0], q[1], q[2], q[3]), static_cast<u64>(r >> 64),
                          static_cast<u64>(r));
}

// (t, d_hi, d_lo) for sigma^2 = num / 2^m.
py::tuple dgauss_params(u64 num, int m) {
    const DgParams p = make_params(num, m);
    return py::make_tuple(p.t, static_cast<u64>(p.d >> 64), static_cast<u64>(p.d));
}

}  // namespace

void register_sampling(py::module_& m) {
    m.def("dgauss_seeded", &dgauss_seeded, py::arg("n"), py::arg("num"), py::arg("m"),
          py::arg("seed"), py::arg("n_threads") = 0,
          "Discrete Gaussian, sigma^2 = num / 2^m, seeded xoshiro256** per block (not secure).");
    m.def("dgauss_secure", &dgauss_secure, py::arg("n"), py::arg("num"), py::arg("m"),
          py::arg("n_threads") = 0, "Discrete Gaussian, sigma^2 = num / 2^m, OS CSPRNG.");
    m.def("normal_secure", &normal_secure, py::arg("n"), py::arg("n_threads") = 0,
          "Standard normals from the OS CSPRNG (Box-Muller; not floating-point safe).");
    m.def("uniform_secure", &uniform_secure, py::arg("n"),
          "Uniform doubles in (0, 1) from the OS CSPRNG.");
    m.def("_bexp_count", &bexp_count, py::arg("x_num"), py::arg("x_den"), py::arg("n"),
          py::arg("seed"));
    m.def("_square_divmod", &square_divmod, py::arg("a_hi"), py::arg("a_lo"), py::arg("d_hi"),
          py::arg("d_lo"));
    m.def("_dgauss_params", &dgauss_params, py::arg("num"), py::arg("m"));
}

}  // namespace redp
