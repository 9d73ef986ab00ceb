#include "runtime/thread_pool.h"

#include <system_error>

namespace mcrt {

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_start_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  stopping_ = false;
}

Status ThreadPool::set_threads(int n) {
  if (n < 1 || n > 256) return Status(StatusCode::kInvalidArgument, "thread count must be in [1, 256]");
  if (n == threads()) return Status::Ok();
  stop_workers();
  try {  // std::thread reports failure by exception; keep it inside this function.
    const uint64_t gen = generation_;  // no job runs now; workers wait for the next one
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, gen] { worker_loop(gen); });
  } catch (const std::system_error& e) {
    stop_workers();
    return Status(StatusCode::kOutOfMemory, std::string("cannot create threads: ") + e.what());
  }
  return Status::Ok();
}

void ThreadPool::run_hook(void* pool, int64_t n, void* ctx, void (*body)(void*, int64_t, int64_t)) {
  static_cast<ThreadPool*>(pool)->parallel(n, ctx, body);
}

void ThreadPool::work_on_current_job() {
  for (;;) {
    const int64_t b = next_.fetch_add(chunk_, std::memory_order_relaxed);
    if (b >= n_) break;
    const int64_t e = b + chunk_ < n_ ? b + chunk_ : n_;
    body_(ctx_, b, e);
  }
}

void ThreadPool::parallel(int64_t n, void* ctx, void (*body)(void*, int64_t, int64_t)) {
  if (n <= 0) return;
  const int64_t t = threads();
  if (t == 1 || n == 1) {
    body(ctx, 0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    n_ = n;
    // About 4 chunks per thread: balances load without much counter traffic.
    chunk_ = (n + 4 * t - 1) / (4 * t);
    ctx_ = ctx;
    body_ = body;
    next_.store(0, std::memory_order_relaxed);
    active_ = (int)workers_.size();
    ++generation_;
  }
  cv_start_.notify_all();
  work_on_current_job();
  std::unique_lock<std::mutex> lk(mu_);
  cv_done_.wait(lk, [this] { return active_ == 0; });
}

void ThreadPool::worker_loop(uint64_t seen) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_start_.wait(lk, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
    }
    work_on_current_job();
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (--active_ == 0) cv_done_.notify_one();
    }
  }
}

}  // namespace mcrt
