#include "tams/http/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "tams/http/responses.h"

namespace tams::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

Method to_method(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get: return Method::kGet;
    case bhttp::verb::head: return Method::kHead;
    case bhttp::verb::post: return Method::kPost;
    case bhttp::verb::put: return Method::kPut;
    case bhttp::verb::delete_: return Method::kDelete;
    case bhttp::verb::options: return Method::kOptions;
    default: return Method::kOther;
  }
}

bhttp::response<bhttp::string_body> to_beast(Response&& r, bool head, unsigned version,
                                             bool keep_alive) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
  res.set(bhttp::field::server, "tams");
  if (!r.content_type.empty()) res.set(bhttp::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) res.insert(name, value);
  res.keep_alive(keep_alive);
  if (head) {
    // HEAD: the headers a GET would carry, no body.
    res.content_length(r.body.size());
  } else {
    res.body() = std::move(r.body);
    res.prepare_payload();
  }
  return res;
}

}  // namespace

struct Server::Impl {
  const App& app;
  ServerOptions options;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::signal_set signals{ioc, SIGINT, SIGTERM};

  Impl(const App& a, ServerOptions o)
      : app(a), options(std::move(o)), ioc(std::max(1, options.threads)) {}

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    beast::error_code ec;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(options.max_body_bytes);
      parser.header_limit(64 * 1024);
      stream.expires_after(std::chrono::seconds(options.idle_timeout_seconds));
      co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
          ec == beast::error::timeout || ec == asio::error::connection_reset ||
          ec == asio::error::operation_aborted) {
        break;
      }
      if (ec) {
        // Malformed or oversized request: answer once, then close (the stream is out of sync).
        Response r = ec == bhttp::error::body_limit
                         ? error_response(413, "payload_too_large",
                                          "request body exceeds " +
                                              std::to_string(options.max_body_bytes) + " bytes")
                     : ec == bhttp::error::header_limit
                         ? error_response(431, "bad_request", "request headers too large")
                         : error_response(400, "bad_request", "malformed HTTP request: " + ec.message());
        auto res = to_beast(std::move(r), false, 11, false);
        stream.expires_after(std::chrono::seconds(5));
        co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        break;
      }
      auto& breq = parser.get();
      Request req;
      req.method = to_method(breq.method());
      req.target = std::string(breq.target());
      req.body = std::move(breq.body());
      if (auto it = breq.find(bhttp::field::authorization); it != breq.end())
        req.authorization = std::string(it->value());
      if (auto it = breq.find(bhttp::field::origin); it != breq.end())
        req.origin = std::string(it->value());
      if (auto it = breq.find(bhttp::field::host); it != breq.end())
        req.host = std::string(it->value());
      if (auto it = breq.find(bhttp::field::content_type); it != breq.end())
        req.content_type = std::string(it->value());
      const bool keep_alive = breq.keep_alive();
      const unsigned version = breq.version();
      Response r = app.handle(req);
      auto res = to_beast(std::move(r), req.method == Method::kHead, version, keep_alive);
      co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !keep_alive) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket(asio::make_strand(ioc));
      co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) {
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(std::move(socket)), asio::detached);
    }
  }
};

Server::Server(const App& app, ServerOptions options)
    : impl_(std::make_unique<Impl>(app, std::move(options))) {}

Server::~Server() = default;

void Server::listen() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  tcp::endpoint endpoint;
  if (ec) {
    tcp::resolver resolver(impl_->ioc);
    auto results = resolver.resolve(impl_->options.host, std::to_string(impl_->options.port), ec);
    if (ec || results.empty()) {
      throw std::runtime_error("listen: cannot resolve host \"" + impl_->options.host + "\"");
    }
    endpoint = results.begin()->endpoint();
  } else {
    endpoint = tcp::endpoint(address, impl_->options.port);
  }
  auto& acc = impl_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("listen: cannot listen on " + impl_->options.host + ":" +
                             std::to_string(impl_->options.port) + ": " + ec.message());
  }
}

uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::run() {
  auto& impl = *impl_;
  impl.signals.async_wait([&impl](const beast::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {} received, shutting down", sig);
    impl.ioc.stop();
  });
  asio::co_spawn(impl.acceptor.get_executor(), impl.accept_loop(), asio::detached);
  std::vector<std::thread> workers;
  const int n = std::max(1, impl.options.threads);
  for (int i = 1; i < n; ++i) workers.emplace_back([&impl] { impl.ioc.run(); });
  impl.ioc.run();
  for (auto& t : workers) t.join();
}

void Server::stop() { impl_->ioc.stop(); }

}  // namespace tams::http
