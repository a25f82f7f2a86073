#include "tams/http/router.h"

#include <algorithm>

#include "tams/http/percent.h"

namespace tams::http {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return parts;
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

bool is_capture(std::string_view part) { return part.size() >= 2 && part.front() == '{'; }
bool is_greedy(std::string_view part) { return part.size() >= 3 && part.ends_with("*}"); }

// Matches `parts` of a template against raw path segments; fills raw captures.
bool match_parts(const std::vector<std::string>& tmpl, const std::vector<std::string_view>& path,
                 std::string_view raw_path, std::vector<std::string_view>& captures) {
  captures.clear();
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const std::string& t = tmpl[i];
    if (is_greedy(t)) {
      if (i >= path.size()) return false;
      // The rest of the raw path from segment i on, including separators.
      const char* begin = path[i].data();
      const char* end = raw_path.data() + raw_path.size();
      std::string_view rest(begin, static_cast<size_t>(end - begin));
      if (rest.empty()) return false;
      captures.push_back(rest);
      return true;
    }
    if (i >= path.size()) return false;
    if (is_capture(t)) {
      if (path[i].empty()) return false;
      captures.push_back(path[i]);
    } else if (t != path[i]) {
      return false;
    }
  }
  return tmpl.size() == path.size();
}

}  // namespace

void Router::add(Method method, std::string route_template, Handler handler, RouteOptions options) {
  Route r{method, route_template, {}, std::move(handler), std::move(options)};
  for (auto part : split_path(route_template)) r.parts.emplace_back(part);
  routes_.push_back(std::move(r));
}

Router::Match Router::match(Method method, std::string_view path) const {
  Match result;
  const auto segments = split_path(path);
  std::vector<std::string_view> captures;
  const Method wanted = method == Method::kHead ? Method::kGet : method;
  for (size_t index = 0; index < routes_.size(); ++index) {
    const Route& route = routes_[index];
    if (!match_parts(route.parts, segments, path, captures)) continue;
    if (std::find(result.allowed.begin(), result.allowed.end(), route.method) ==
        result.allowed.end()) {
      result.allowed.push_back(route.method);
    }
    if (route.method != wanted || result.outcome == Outcome::kMatched) continue;
    result.params.clear();
    for (auto raw : captures) {
      auto decoded = percent_decode(raw);
      if (!decoded) {
        result.outcome = Outcome::kBadEncoding;
        return result;
      }
      result.params.push_back(std::move(*decoded));
    }
    result.outcome = Outcome::kMatched;
    result.handler = &route.handler;
    result.options = &route.options;
    result.route = &route.route_template;
    result.index = index;
  }
  if (result.outcome == Outcome::kNotFound && !result.allowed.empty()) {
    result.outcome = Outcome::kMethodNotAllowed;
  }
  return result;
}

}  // namespace tams::http
