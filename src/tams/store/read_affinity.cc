#include "tams/store/read_affinity.h"

#include <utility>

namespace tams::store {

namespace {
thread_local std::string t_key;
}  // namespace

ReadAffinity::ReadAffinity(std::string key) : previous_(std::exchange(t_key, std::move(key))) {}

ReadAffinity::~ReadAffinity() { t_key = std::move(previous_); }

const std::string& ReadAffinity::current() { return t_key; }

}  // namespace tams::store
