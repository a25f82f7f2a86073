// HTTP/1.1 server on Boost.Beast + Asio C++20 coroutines.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "tams/http/app.h"

namespace tams::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  int threads = 1;
  // Threads that run requests which may wait for the database writer (every method but GET, HEAD
  // and OPTIONS), so that a write never holds one of the `threads` I/O threads.
  int worker_threads = 16;
  uint64_t max_body_bytes = 16 * 1024 * 1024;
  int idle_timeout_seconds = 60;  // keep-alive connections idle this long are closed
};

// Accepts connections and serves `app` on `threads` I/O threads. Reads (GET, HEAD, OPTIONS) are
// handled on the I/O thread that read them, so they may block briefly (a local database read) but
// never for long; every other request is handled on one of `worker_threads` worker threads and its
// connection resumes on its I/O thread with the response.
class Server {
 public:
  Server(const App& app, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; throws std::runtime_error naming the address on failure.
  void listen();
  // The bound port (useful when listening on port 0).
  uint16_t port() const;
  // Serves until SIGINT/SIGTERM or stop(); returns after in-flight requests are answered.
  void run();
  // Asks run() to return. Thread-safe.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tams::http
