// MetadataCache: other instances' changes drop what the writing instance's own invalidation
// dropped there, and refills right after a change read from the primary.
#include "tams/core/metadata_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

namespace tams::core {
namespace {

using Kind = store::Change::Kind;

class MetadataCacheTest : public ::testing::Test {
 protected:
  obs::Registry registry;

  MetadataCache make(std::chrono::milliseconds fill_window = {}) {
    MetadataCacheOptions options;
    options.fill_from_primary_after_change = fill_window;
    return MetadataCache(options, registry);
  }

  static void put_all(MetadataCache& cache) {
    for (const char* id : {"f1", "f2"}) {
      cache.flows().insert(id, "", std::make_shared<std::string>(),
                           cache.flows().generation());
      cache.segment_pages().insert(id, "page", std::make_shared<SegmentPage>(),
                                   cache.segment_pages().generation());
      // Pages are admitted on their second miss.
      cache.segment_pages().insert(id, "page", std::make_shared<SegmentPage>(),
                                   cache.segment_pages().generation());
    }
    cache.sources().insert("s1", "", std::make_shared<std::string>(),
                           cache.sources().generation());
  }

  static bool has_flow(MetadataCache& c, const char* id) {
    return c.flows().find(id, "") != nullptr;
  }
  static bool has_page(MetadataCache& c, const char* id) {
    return c.segment_pages().find(id, "page") != nullptr;
  }
  static bool has_source(MetadataCache& c) { return c.sources().find("s1", "") != nullptr; }
};

TEST_F(MetadataCacheTest, ChangesOfOtherInstancesDropWhatTheirWriteDrops) {
  MetadataCache cache = make();
  put_all(cache);
  ASSERT_TRUE(has_flow(cache, "f1") && has_page(cache, "f1") && has_source(cache));

  cache.invalidate({Kind::kSegments, "f1"});
  EXPECT_FALSE(has_flow(cache, "f1"));
  EXPECT_FALSE(has_page(cache, "f1"));
  EXPECT_TRUE(has_flow(cache, "f2") && has_page(cache, "f2") && has_source(cache));

  cache.invalidate({Kind::kSource, "s1"});
  EXPECT_FALSE(has_source(cache));
  EXPECT_TRUE(has_flow(cache, "f2"));

  put_all(cache);
  cache.invalidate({Kind::kDocuments, ""});
  EXPECT_FALSE(has_flow(cache, "f1") || has_flow(cache, "f2") || has_source(cache));
  EXPECT_TRUE(has_page(cache, "f1") && has_page(cache, "f2")) << "pages are not documents";

  put_all(cache);
  cache.invalidate({Kind::kFlowDeleted, "f1"});
  EXPECT_FALSE(has_page(cache, "f1") || has_flow(cache, "f2") || has_source(cache));
  EXPECT_TRUE(has_page(cache, "f2"));

  put_all(cache);
  cache.invalidate({Kind::kEverything, ""});
  EXPECT_FALSE(has_page(cache, "f1") || has_page(cache, "f2") || has_flow(cache, "f1") ||
               has_source(cache));
}

// The ReadAffinity key a refill of `group` runs with ("": the primary).
std::string refill_key(MetadataCache& cache, const char* group) {
  store::ReadAffinity client("client");
  return cache.fill(cache.flows(), group, [] { return store::ReadAffinity::current(); });
}

TEST_F(MetadataCacheTest, RefillsRightAfterAChangeReadThePrimary) {
  MetadataCache cache = make(std::chrono::milliseconds(200));
  EXPECT_EQ(refill_key(cache, "f1"), "client");
  cache.invalidate_flow("f1");
  EXPECT_EQ(refill_key(cache, "f1"), "") << "f1 changed just now";
  EXPECT_EQ(refill_key(cache, "f2"), "client") << "f2 did not change";
  cache.invalidate({Kind::kDocuments, ""});
  EXPECT_EQ(refill_key(cache, "f2"), "") << "every document changed";
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(refill_key(cache, "f1"), "client") << "the window has passed";

  MetadataCache without_replicas = make();
  without_replicas.invalidate_flow("f1");
  EXPECT_EQ(refill_key(without_replicas, "f1"), "client");
}

}  // namespace
}  // namespace tams::core
