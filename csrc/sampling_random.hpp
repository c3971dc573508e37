// Random sources for the DP noise samplers (csrc/sampling.cpp).
//
// Two sources, one interface (`next()` returns 64 uniformly random bits):
//   * SeededSource: xoshiro256** seeded by SplitMix64 from (seed, stream).
//     Reproducible; for tests and research only (NOT cryptographic).
//   * OsSource: the operating system's CSPRNG (getrandom(2) on Linux,
//     getentropy(3) on macOS / BSD, /dev/urandom otherwise), read into a
//     buffer that is refilled as it runs out. A sample is never abandoned
//     half-way when the buffer empties: the buffer is simply refilled.
// BitStream wraps either one and hands out single bits and exact uniform
// integers.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#if defined(__linux__)
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__)
#include <unistd.h>
#endif

namespace redp {
namespace rnd {

using u64 = std::uint64_t;
using u128 = unsigned __int128;

inline u64 splitmix64(u64& state) {
    u64 z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// xoshiro256** (Blackman & Vigna). Stream `stream` of seed `seed`: the two are
// mixed through SplitMix64 so neighbouring blocks get unrelated states.
class SeededSource {
   public:
    SeededSource(u64 seed, u64 stream) {
        u64 sm = seed ^ splitmix64_const(stream);
        for (auto& w : s_) w = splitmix64(sm);
        if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;
    }
    inline u64 next() {
        const u64 result = rotl(s_[1] * 5, 7) * 9;
        const u64 t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

   private:
    static u64 splitmix64_const(u64 x) {
        u64 st = x * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL;
        return splitmix64(st);
    }
    static inline u64 rotl(u64 x, int k) { return (x << k) | (x >> (64 - k)); }
    u64 s_[4];
};

// Fill `buf` with `len` bytes from the OS CSPRNG or throw.
inline void fill_os_random(void* buf, std::size_t len) {
    unsigned char* p = static_cast<unsigned char*>(buf);
#if defined(__linux__)
    while (len > 0) {
        long got = static_cast<long>(syscall(SYS_getrandom, p, len, 0));
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOSYS) break;  // very old kernel: fall back to /dev/urandom
            throw std::runtime_error("getrandom(2) failed: errno " + std::to_string(errno));
        }
        p += got;
        len -= static_cast<std::size_t>(got);
    }
    if (len == 0) return;
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__)
    while (len > 0) {
        std::size_t chunk = len < 256 ? len : 256;  // getentropy's limit
        if (getentropy(p, chunk) != 0)
            throw std::runtime_error("getentropy(3) failed: errno " + std::to_string(errno));
        p += chunk;
        len -= chunk;
    }
    return;
#endif
#if !defined(_WIN32)
    std::FILE* f = std::fopen("/dev/urandom", "rb");
    if (!f) throw std::runtime_error("no operating-system CSPRNG available (/dev/urandom)");
    std::size_t got = std::fread(p, 1, len, f);
    std::fclose(f);
    if (got != len) throw std::runtime_error("short read from /dev/urandom");
#else
    (void)p;
    throw std::runtime_error("secure randomness is not implemented on this platform");
#endif
}

// Buffered OS CSPRNG. The buffer is wiped when the source is destroyed.
class OsSource {
   public:
    static constexpr std::size_t kWords = 512;  // 4 KiB per system call
    OsSource() = default;
    OsSource(const OsSource&) = delete;
    OsSource& operator=(const OsSource&) = delete;
    ~OsSource() {
        volatile u64* v = buf_;
        for (std::size_t i = 0; i < kWords; ++i) v[i] = 0;
    }
    inline u64 next() {
        if (pos_ == kWords) {
            fill_os_random(buf_, sizeof(buf_));
            pos_ = 0;
        }
        return buf_[pos_++];
    }

   private:
    u64 buf_[kWords];
    std::size_t pos_ = kWords;
};

// Single bits and exact uniform integers on top of a 64-bit source.
template <class Source>
class BitStream {
   public:
    template <class... Args>
    explicit BitStream(Args&&... args) : src_(static_cast<Args&&>(args)...) {}

    inline u64 word() { return src_.next(); }

    inline unsigned bit() {
        if (left_ == 0) {
            cache_ = src_.next();
            left_ = 64;
        }
        unsigned b = static_cast<unsigned>(cache_ & 1u);
        cache_ >>= 1;
        --left_;
        return b;
    }

    // Exactly uniform on [0, n), n >= 1 (Lemire's multiply-and-reject).
    inline u64 uniform(u64 n) {
        u64 x = src_.next();
        u128 m = static_cast<u128>(x) * n;
        u64 low = static_cast<u64>(m);
        if (low < n) {
            const u64 threshold = (0 - n) % n;
            while (low < threshold) {
                x = src_.next();
                m = static_cast<u128>(x) * n;
                low = static_cast<u64>(m);
            }
        }
        return static_cast<u64>(m >> 64);
    }

    // Uniform double in the open interval (0, 1): (k + 1/2) 2^-53.
    inline double open_unit() {
        const u64 k = src_.next() >> 11;
        return (static_cast<double>(k) + 0.5) * 0x1.0p-53;
    }

   private:
    Source src_;
    u64 cache_ = 0;
    int left_ = 0;
};

}  // namespace rnd
}  // namespace redp
