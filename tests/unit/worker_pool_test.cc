#include "tams/http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace tams::http {
namespace {

namespace asio = boost::asio;

// Runs `coroutine` on a one-thread io_context until it finishes; rethrows what it threw.
template <class Awaitable>
void run_on_io(asio::io_context& io, Awaitable coroutine) {
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(coroutine), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

TEST(WorkerPool, RunsOnAWorkerAndResumesOnTheCallersThread) {
  WorkerPool pool(2);
  asio::io_context io;
  std::thread::id io_thread, worker_thread, resumed_thread;
  int result = 0;
  run_on_io(io, [&]() -> asio::awaitable<void> {
    io_thread = std::this_thread::get_id();
    result = co_await pool.run([&] {
      worker_thread = std::this_thread::get_id();
      return 42;
    });
    resumed_thread = std::this_thread::get_id();
  }());
  EXPECT_EQ(result, 42);
  EXPECT_NE(worker_thread, io_thread);
  EXPECT_EQ(resumed_thread, io_thread);
}

TEST(WorkerPool, PassesTheExceptionToTheCaller) {
  WorkerPool pool(1);
  asio::io_context io;
  std::string caught;
  run_on_io(io, [&]() -> asio::awaitable<void> {
    try {
      co_await pool.run([]() -> int { throw std::runtime_error("store failed"); });
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
  }());
  EXPECT_EQ(caught, "store failed");
}

TEST(WorkerPool, BlockingWorkDoesNotHoldTheIoThread) {
  // One I/O thread: a job blocked on the pool must leave it free for other coroutines.
  WorkerPool pool(1);
  asio::io_context io;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> other_ran{false};
  std::exception_ptr failure;
  bool released_in_time = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // Blocks until the other coroutine has run on the I/O thread (or gives up after 5 s).
        released_in_time = co_await pool.run([&] {
          return released.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
        });
      },
      [&](std::exception_ptr e) { failure = e; });
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        other_ran = true;
        release.set_value();
        co_return;
      },
      asio::detached);
  io.run();
  if (failure) std::rethrow_exception(failure);
  EXPECT_TRUE(other_ran);
  EXPECT_TRUE(released_in_time);
}

TEST(WorkerPool, QueuesWorkBeyondItsThreads) {
  WorkerPool pool(2);
  asio::io_context io;
  std::atomic<int> running{0}, most{0}, done{0};
  for (int i = 0; i < 8; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await pool.run([&] {
            const int now = ++running;
            int seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) {
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            --running;
            return 0;
          });
          ++done;
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(done, 8);
  EXPECT_LE(most, 2);
  EXPECT_GE(most, 1);
}

}  // namespace
}  // namespace tams::http
