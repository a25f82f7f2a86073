// WorkerPool: a fixed set of threads for request work that blocks (waiting for the single
// database writer and its fsync), so that the I/O threads keep serving other connections.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace tams::http {

class WorkerPool {
 public:
  // Starts `threads` (at least 1) worker threads.
  explicit WorkerPool(int threads) : pool_(static_cast<size_t>(threads < 1 ? 1 : threads)) {}
  // Stops taking work and joins the threads; work not yet started is dropped.
  ~WorkerPool() {
    pool_.stop();
    pool_.join();
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Calls fn() on a worker thread and resumes the awaiting coroutine on its own executor with
  // fn's result (or its exception). Work beyond the thread count queues in arrival order. `fn`
  // is moved into the pool and lives until it has returned.
  template <class Fn>
  boost::asio::awaitable<std::invoke_result_t<Fn&>> run(Fn fn) {
    using Result = std::invoke_result_t<Fn&>;
    static_assert(!std::is_void_v<Result>, "WorkerPool::run needs a function returning a value");
    co_return co_await boost::asio::co_spawn(
        pool_.get_executor(),
        [fn = std::move(fn)]() mutable -> boost::asio::awaitable<Result> { co_return fn(); },
        boost::asio::use_awaitable);
  }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace tams::http
