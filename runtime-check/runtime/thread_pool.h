// A small persistent thread pool implementing the kernels' ParallelFor hook.
// N - 1 worker threads plus the calling thread share each parallel loop; chunks are
// handed out by an atomic counter. The split never changes what a kernel computes for
// one output (kernels.h guarantees a fixed summation order), so results are bit-identical
// for any thread count. Threads are created at set_threads(), never during run.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels/kernels.h"
#include "runtime/status.h"

namespace mcrt {

class ThreadPool {
 public:
  ThreadPool() = default;
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // 1 = no worker threads (everything runs on the caller). Creating threads may fail.
  Status set_threads(int n);
  int threads() const { return (int)workers_.size() + 1; }
  // The hook for kernels; nullptr when single-threaded.
  const ParallelFor* hook() const { return workers_.empty() ? nullptr : &hook_; }

 private:
  static void run_hook(void* pool, int64_t n, void* ctx, void (*body)(void*, int64_t, int64_t));
  void parallel(int64_t n, void* ctx, void (*body)(void*, int64_t, int64_t));
  void worker_loop(uint64_t seen_generation);
  void work_on_current_job();
  void stop_workers();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_start_, cv_done_;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  int active_ = 0;
  // Current job.
  int64_t n_ = 0, chunk_ = 1;
  void* ctx_ = nullptr;
  void (*body_)(void*, int64_t, int64_t) = nullptr;
  std::atomic<int64_t> next_{0};
  ParallelFor hook_{&ThreadPool::run_hook, this};
};

}  // namespace mcrt
