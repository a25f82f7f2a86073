#include "tams/http/server.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
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
#include <cerrno>
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
    case bhttp::verb::get:
      return Method::kGet;
    case bhttp::verb::head:
      return Method::kHead;
    case bhttp::verb::post:
      return Method::kPost;
    case bhttp::verb::put:
      return Method::kPut;
    case bhttp::verb::delete_:
      return Method::kDelete;
    case bhttp::verb::options:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

constexpr size_t kBodyReadBytes = 64 * 1024;
constexpr size_t kIdleBufferBytes = 8 * 1024;

bool is_disconnect(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == beast::error::timeout ||
         ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
         ec == asio::error::broken_pipe;
}

// A request body fed to a BodySink as it arrives (streaming routes).
struct SinkBody {
  struct value_type {
    std::shared_ptr<BodySink> sink;
    std::string error;  // what the sink threw, when it did
  };

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(bhttp::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>&, beast::error_code& ec) { ec = {}; }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      std::size_t n = 0;
      try {
        for (auto b : beast::buffers_range_ref(buffers)) {
          body_.sink->write(static_cast<const char*>(b.data()), b.size());
          n += b.size();
        }
      } catch (const std::exception& e) {
        body_.error = e.what();
        ec = make_error_code(beast::errc::io_error);
        return n;
      }
      ec = {};
      return n;
    }

    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

// A response body read from a file range in 64 KiB chunks (never the whole file in memory).
struct FileRangeBody {
  using value_type = FileBody;

  static std::uint64_t size(const value_type& body) { return body.length; }

  class writer {
   public:
    using const_buffers_type = asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const bhttp::header<isRequest, Fields>&, const value_type& body)
        : fd_(*body.fd), offset_(body.offset), remain_(body.length) {}

    void init(beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      if (remain_ == 0) {
        ec = {};
        return boost::none;
      }
      const size_t want = static_cast<size_t>(std::min<uint64_t>(remain_, chunk_.size()));
      ssize_t n;
      do {
        n = ::pread(fd_, chunk_.data(), want, static_cast<off_t>(offset_));
      } while (n < 0 && errno == EINTR);
      if (n <= 0) {
        // The file shrank under us (it never should) or cannot be read: abort the response.
        ec = n == 0 ? make_error_code(beast::errc::io_error)
                    : beast::error_code(errno, beast::system_category());
        return boost::none;
      }
      offset_ += static_cast<uint64_t>(n);
      remain_ -= static_cast<uint64_t>(n);
      ec = {};
      return {{const_buffers_type(chunk_.data(), static_cast<size_t>(n)), remain_ > 0}};
    }

   private:
    int fd_;
    uint64_t offset_;
    uint64_t remain_;
    std::array<char, 64 * 1024> chunk_;
  };
};

template <class Body>
void set_headers(bhttp::response<Body>& res, Response& r, bool keep_alive) {
  res.set(bhttp::field::server, "tams");
  if (!r.content_type.empty()) res.set(bhttp::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) res.insert(name, value);
  res.keep_alive(keep_alive);
}

bhttp::response<bhttp::string_body> to_beast(Response&& r, bool head, unsigned version,
                                             bool keep_alive) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
  set_headers(res, r, keep_alive);
  if (head) {
    // HEAD: the headers a GET would carry, no body (and a 304 or 204 carries no length).
    if (r.status != 304 && r.status != 204) {
      res.content_length(r.file ? r.file->length : r.body.size());
    }
  } else {
    res.body() = std::move(r.body);
    res.prepare_payload();
  }
  return res;
}

bool expects_continue(const bhttp::request_header<>& header) {
  auto it = header.find(bhttp::field::expect);
  return header.version() >= 11 && it != header.end() &&
         beast::iequals(it->value(), "100-continue");
}

Request to_request(const bhttp::request_header<>& h,
                   const boost::optional<std::uint64_t>& content_length) {
  Request req;
  req.method = to_method(h.method());
  req.target = std::string(h.target());
  auto get = [&](bhttp::field f, std::string& out) {
    if (auto it = h.find(f); it != h.end()) out = std::string(it->value());
  };
  get(bhttp::field::authorization, req.authorization);
  get(bhttp::field::origin, req.origin);
  get(bhttp::field::host, req.host);
  get(bhttp::field::content_type, req.content_type);
  get(bhttp::field::range, req.range);
  get(bhttp::field::if_none_match, req.if_none_match);
  get(bhttp::field::if_range, req.if_range);
  if (content_length) req.content_length = *content_length;
  return req;
}

Response read_error_response(const beast::error_code& ec, uint64_t limit) {
  if (ec == bhttp::error::body_limit) {
    return error_response(413, "payload_too_large",
                          "request body exceeds " + std::to_string(limit) + " bytes");
  }
  if (ec == bhttp::error::header_limit) {
    return error_response(431, "bad_request", "request headers too large");
  }
  return error_response(400, "bad_request", "malformed HTTP request: " + ec.message());
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

  std::chrono::seconds idle() const { return std::chrono::seconds(options.idle_timeout_seconds); }

  // Reads the rest of a message whose header `parser` already has. The idle timeout applies to
  // each read, not to the whole body, so a long upload that keeps moving is never cut off.
  template <class Parser>
  asio::awaitable<beast::error_code> read_body(beast::tcp_stream& stream,
                                               beast::flat_buffer& buffer, Parser& parser) {
    beast::error_code ec;
    while (!parser.is_done()) {
      stream.expires_after(idle());
      co_await bhttp::async_read_some(stream, buffer, parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
    co_return ec;
  }

  asio::awaitable<beast::error_code> send(beast::tcp_stream& stream, Response r, bool head,
                                          unsigned version, bool keep_alive) {
    beast::error_code ec;
    if (r.file && !head) {
      bhttp::response<FileRangeBody> res{static_cast<bhttp::status>(r.status), version};
      set_headers(res, r, keep_alive);
      res.content_length(r.file->length);
      res.body() = std::move(*r.file);
      bhttp::response_serializer<FileRangeBody> serializer{res};
      while (!serializer.is_done()) {
        stream.expires_after(idle());
        co_await bhttp::async_write_some(stream, serializer,
                                         asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
      }
      co_return ec;
    }
    auto res = to_beast(std::move(r), head, version, keep_alive);
    stream.expires_after(idle());
    co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    co_return ec;
  }

  // Answers and closes a connection whose request body will not be read. Closing a socket with
  // unread data makes the kernel send a reset that can destroy our answer before the client has
  // read it, so the body still arriving is read and dropped (for a few seconds at most) after
  // our side is shut down.
  asio::awaitable<void> refuse(beast::tcp_stream& stream, Response r, bool head, unsigned version) {
    beast::error_code ec = co_await send(stream, std::move(r), head, version, false);
    if (ec) co_return;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(std::chrono::seconds(5));
    std::array<char, 16 * 1024> discard;
    while (!ec) {
      co_await stream.async_read_some(asio::buffer(discard),
                                      asio::redirect_error(asio::use_awaitable, ec));
    }
    stream.socket().close(ec);
  }

  // Reads the body announced by the header in `header_parser` into the request: its sink on a
  // streaming route, otherwise req.body. Sets `sink_error` when the sink threw.
  asio::awaitable<beast::error_code> receive_body(
      beast::tcp_stream& stream, beast::flat_buffer& buffer,
      bhttp::request_parser<bhttp::empty_body>& header_parser, Request& req, uint64_t limit,
      std::string& sink_error) {
    beast::error_code ec;
    if (expects_continue(header_parser.get())) {
      bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_,
                                               header_parser.get().version()};
      stream.expires_after(idle());
      co_await bhttp::async_write(stream, go_on, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return ec;
    }
    // Beast sizes each read by the buffer's free capacity, which after a header is small: give
    // bodies room for 64 KiB reads (shrunk again once the request is done).
    if (buffer.capacity() < kBodyReadBytes) buffer.reserve(kBodyReadBytes);
    if (req.body_sink) {
      bhttp::request_parser<SinkBody> parser{std::move(header_parser)};
      parser.body_limit(limit);
      parser.get().body().sink = req.body_sink;
      ec = co_await read_body(stream, buffer, parser);
      sink_error = std::move(parser.get().body().error);
    } else {
      bhttp::request_parser<bhttp::string_body> parser{std::move(header_parser)};
      parser.body_limit(limit);
      ec = co_await read_body(stream, buffer, parser);
      req.body = std::move(parser.get().body());
    }
    co_return ec;
  }

  // Reads one request and answers it. True when the connection may carry another request.
  asio::awaitable<bool> exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                 bool from_loopback) {
    beast::error_code ec;
    // The header first: whether and where the body goes depends on the route.
    bhttp::request_parser<bhttp::empty_body> header_parser;
    header_parser.header_limit(64 * 1024);
    header_parser.body_limit(boost::none);  // checked below, once the route's limit is known
    stream.expires_after(idle());
    co_await bhttp::async_read_header(stream, buffer, header_parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
    if (is_disconnect(ec)) co_return false;
    if (ec) {
      // Malformed request: answer once, then close (the stream is out of sync).
      co_await refuse(stream, read_error_response(ec, options.max_body_bytes), false, 11);
      co_return false;
    }
    const auto& header = header_parser.get();
    Request req = to_request(header, header_parser.content_length());
    req.from_loopback = from_loopback;
    const bool keep_alive = header.keep_alive();
    const unsigned version = header.version();
    const bool head = req.method == Method::kHead;

    if (!header_parser.is_done()) {
      // There is a body: decide where it goes (or whether to read it at all) before reading it.
      App::BodyPlan plan = app.plan_body(req);
      const uint64_t limit = plan.kind == App::BodyPlan::Kind::kStream && plan.max_bytes > 0
                                 ? plan.max_bytes
                                 : options.max_body_bytes;
      if (plan.kind == App::BodyPlan::Kind::kBuffer && req.content_length &&
          *req.content_length > limit) {
        plan.kind = App::BodyPlan::Kind::kRefuse;
        plan.refusal = read_error_response(bhttp::error::body_limit, limit);
      }
      if (plan.kind == App::BodyPlan::Kind::kRefuse) {
        // Refused on its headers: the body is never read, so the connection cannot go on.
        co_await refuse(stream, std::move(plan.refusal), head, version);
        co_return false;
      }
      std::string sink_error;
      ec = co_await receive_body(stream, buffer, header_parser, req, limit, sink_error);
      if (ec) {
        req.body_sink.reset();  // the upload is abandoned: its temporary file goes now
        if (is_disconnect(ec) && sink_error.empty()) co_return false;
        Response failure = read_error_response(ec, limit);
        if (!sink_error.empty()) {
          // The path only: the query may carry ?access_token= or a signature.
          spdlog::error("{}: cannot store the request body: {}",
                        std::string_view(req.target).substr(0, req.target.find('?')), sink_error);
          failure = error_response(500, "internal", "cannot store the request body");
        }
        co_await refuse(stream, std::move(failure), head, version);
        co_return false;
      }
    }
    // Without a body, App::handle runs a streaming route's precheck and sink itself.
    Response response = app.handle(req);
    req.body_sink.reset();  // an upload the handler did not commit is discarded now
    ec = co_await send(stream, std::move(response), head, version, keep_alive);
    // Idle keep-alive connections go back to a small buffer.
    if (buffer.capacity() > kIdleBufferBytes) buffer.shrink_to_fit();
    co_return !ec && keep_alive;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    // An IPv4 client of a dual-stack socket arrives as ::ffff:127.x.x.x.
    const auto address = !ec && peer.address().is_v6() && peer.address().to_v6().is_v4_mapped()
                             ? asio::ip::address(asio::ip::make_address_v4(
                                   asio::ip::v4_mapped, peer.address().to_v6()))
                             : peer.address();
    const bool from_loopback = !ec && address.is_loopback();
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    while (co_await exchange(stream, buffer, from_loopback)) {
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
