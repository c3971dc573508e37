// Minimal fork-join helper for the kernels: std::thread, no OpenMP runtime
// (faiss and numba each bring their own; a third would fight them for cores).
// Exceptions thrown by workers are captured and rethrown on the caller's thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace redp {

inline int resolve_threads(int requested) {
    if (requested > 0) return requested;
    unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
}

// Run fn(task) for task in [0, n_tasks) on up to n_threads threads, tasks handed
// out dynamically (an atomic counter) so uneven tasks balance. The first
// exception is rethrown after all workers joined; remaining tasks are skipped.
template <class Fn>
void parallel_for(int64_t n_tasks, int n_threads, Fn&& fn) {
    if (n_tasks <= 0) return;
    n_threads = static_cast<int>(std::min<int64_t>(resolve_threads(n_threads), n_tasks));
    if (n_threads <= 1) {
        for (int64_t t = 0; t < n_tasks; ++t) fn(t);
        return;
    }
    std::atomic<int64_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto worker = [&]() {
        for (;;) {
            if (failed.load(std::memory_order_relaxed)) return;
            int64_t t = next.fetch_add(1, std::memory_order_relaxed);
            if (t >= n_tasks) return;
            try {
                fn(t);
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mutex);
                if (!error) error = std::current_exception();
                failed.store(true);
                return;
            }
        }
    };
    std::vector<std::thread> threads;
    threads.reserve(n_threads - 1);
    for (int i = 0; i < n_threads - 1; ++i) threads.emplace_back(worker);
    worker();
    for (auto& th : threads) th.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace redp
