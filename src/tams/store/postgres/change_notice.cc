#include "tams/store/postgres/change_notice.h"

#include <utility>

namespace tams::store::postgres {

namespace {

std::string token(const Change &change) {
  std::string out(1, static_cast<char>(change.kind));
  out += change.id;
  return out;
}

bool known_kind(char c) {
  switch (static_cast<Change::Kind>(c)) {
    case Change::Kind::kSegments:
    case Change::Kind::kSource:
    case Change::Kind::kFlowDeleted:
    case Change::Kind::kDocuments:
    case Change::Kind::kEverything:
      return true;
  }
  return false;
}

bool needs_id(Change::Kind kind) {
  return kind != Change::Kind::kDocuments && kind != Change::Kind::kEverything;
}

}  // namespace

void ChangeSet::add(Change change) {
  const Change everything{Change::Kind::kEverything, ""};
  if (!changes_.empty() && changes_.front() == everything) return;  // nothing to add to it
  std::string key = token(change);
  if (seen_.contains(key)) return;
  bytes_ += key.size() + 1;
  if (change.kind == Change::Kind::kEverything || bytes_ > kMaxChangeBytes) {
    changes_.assign(1, everything);
    seen_.clear();
    return;
  }
  seen_.insert(std::move(key));
  changes_.push_back(std::move(change));
}

std::string encode_notice(std::string_view origin, const ChangeSet &changes) {
  std::string out(origin);
  for (const Change &change : changes.changes()) {
    out += ' ';
    out += token(change);
  }
  return out;
}

Notice decode_notice(std::string_view payload) {
  const Notice unreadable{"", {Change{Change::Kind::kEverything, ""}}};
  Notice notice;
  size_t space = payload.find(' ');
  notice.origin = std::string(payload.substr(0, space));
  if (notice.origin.empty() || space == std::string_view::npos) return unreadable;
  while (space != std::string_view::npos) {
    const size_t begin = space + 1;
    space = payload.find(' ', begin);
    const std::string_view item = payload.substr(
        begin, space == std::string_view::npos ? std::string_view::npos : space - begin);
    if (item.empty() || !known_kind(item[0])) return unreadable;
    const auto kind = static_cast<Change::Kind>(item[0]);
    if (needs_id(kind) == (item.size() == 1)) return unreadable;
    notice.changes.push_back(Change{kind, std::string(item.substr(1))});
  }
  return notice;
}

}  // namespace tams::store::postgres
