// The one translation unit that compiles Boost.Asio and Boost.Beast (separate compilation keeps
// a rebuild after a handler change to seconds).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
