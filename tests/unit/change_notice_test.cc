// The payload of the change notifications between instances
// (store/postgres/change_notice.h).
#include "tams/store/postgres/change_notice.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tams::store::postgres {
namespace {

using Kind = Change::Kind;

const std::string kFlow = "3c0b1b1e-6f54-4b7a-9c55-2d3f3b0c7a10";
const std::string kSource = "9a1e0a0e-3e3c-4d67-8a51-3f0f1c8e2b11";

TEST(ChangeNotice, RoundTripKeepsOrderAndDropsRepeats) {
  ChangeSet set;
  set.add({Kind::kSegments, kFlow});
  set.add({Kind::kSource, kSource});
  set.add({Kind::kSegments, kFlow});
  set.add({Kind::kDocuments, ""});
  set.add({Kind::kDocuments, ""});
  set.add({Kind::kFlowDeleted, kFlow});
  const std::string payload = encode_notice("inst-1", set);
  EXPECT_EQ(payload, "inst-1 s" + kFlow + " o" + kSource + " d x" + kFlow);
  const Notice notice = decode_notice(payload);
  EXPECT_EQ(notice.origin, "inst-1");
  const std::vector<Change> expected = {{Kind::kSegments, kFlow},
                                        {Kind::kSource, kSource},
                                        {Kind::kDocuments, ""},
                                        {Kind::kFlowDeleted, kFlow}};
  EXPECT_EQ(notice.changes, expected);
}

TEST(ChangeNotice, ManyChangesCoalesceIntoEverythingBelowThePayloadLimit) {
  ChangeSet set;
  for (int i = 0; i < 1000; ++i) {
    std::string id = kFlow;
    id.replace(0, 4, std::to_string(1000 + i));
    set.add({Kind::kSegments, id});
  }
  set.add({Kind::kSource, kSource});  // nothing is added to "everything"
  const std::string payload = encode_notice("inst-1", set);
  EXPECT_EQ(payload, "inst-1 *");
  EXPECT_EQ(decode_notice(payload).changes, (std::vector<Change>{{Kind::kEverything, ""}}));

  ChangeSet near_limit;  // as many as fit stay listed
  int listed = 0;
  while (true) {
    std::string id = kFlow;
    id.replace(0, 4, std::to_string(1000 + listed));
    near_limit.add({Kind::kSegments, id});
    if (near_limit.changes().front().kind == Kind::kEverything) break;
    ++listed;
  }
  EXPECT_GT(listed, 150);
  EXPECT_LT(encode_notice(std::string(64, 'o'), near_limit).size(), 8000u);
}

TEST(ChangeNotice, EverythingReplacesWhatCameBefore) {
  ChangeSet set;
  set.add({Kind::kSegments, kFlow});
  set.add({Kind::kEverything, ""});
  EXPECT_EQ(set.changes(), (std::vector<Change>{{Kind::kEverything, ""}}));
}

TEST(ChangeNotice, UnreadablePayloadsMeanEverythingFromNobody) {
  const std::vector<std::string> unreadable = {
      "",
      "inst-1",
      " s" + kFlow,
      "inst-1 ",
      "inst-1 q" + kFlow,
      "inst-1 s",
      "inst-1 d" + kFlow,
      "inst-1 s" + kFlow + "  o" + kSource,
  };
  for (const std::string &payload : unreadable) {
    const Notice notice = decode_notice(payload);
    EXPECT_EQ(notice.origin, "") << payload;
    EXPECT_EQ(notice.changes, (std::vector<Change>{{Kind::kEverything, ""}})) << payload;
  }
}

}  // namespace
}  // namespace tams::store::postgres
