// Deleting segments and flows, synchronously within a time budget or through deletion requests
// (/flow-delete-requests) finished in the background.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "tams/core/flows.h"
#include "tams/core/job_lease.h"
#include "tams/core/principal.h"
#include "tams/store/metadata_store.h"
#include "tams/time/timerange.h"

namespace tams::core {

struct DeletionOptions {
  // A DELETE that has not finished after this long answers 202 with a deletion request and
  // the rest is done in the background.
  std::chrono::milliseconds budget{500};
  int64_t batch_size = 1000;                // segments deleted per transaction
  int64_t request_expiry_seconds = 86400;   // a finished request is kept this long
  // Deletion requests are claimed under this lease, so that of several instances sharing the
  // store one works on a request at a time (an empty owner gets a new one).
  JobLease lease;
};

// Thread-safe.
class Deletions {
 public:
  // `cache` (optional, outliving this) is told about every batch of deleted segments.
  Deletions(store::MetadataStore& store, Flows& flows, DeletionOptions options,
            MetadataCache* cache = nullptr);

  struct Outcome {
    bool done = false;             // everything was deleted (204)
    boost::json::object request;   // the deletion request when !done (202)
  };
  // Deletes the flow's segments lying completely inside `range` (and of `object_id` when given;
  // deletes by object id always finish synchronously). kNotFound / kReadOnly for the flow.
  Outcome delete_segments(const std::string& flow_id, const time::TimeRange& range,
                          const std::optional<std::string>& object_id, const Principal& who);
  // Deletes all the flow's segments, then the flow (and its source when it was the last flow).
  Outcome delete_flow(const std::string& flow_id, const Principal& who);

  // deletion-request.json; kNotFound when unknown.
  boost::json::object get(const std::string& request_id);
  // All deletion requests, oldest first.
  boost::json::array list();

  // Works on pending deletion requests for about `budget` (a whole batch at least), one at a
  // time, each claimed under the lease (requests other instances hold are left to them) and
  // released when the budget ends before it does. Returns true when work may remain. Safe to
  // call from several threads, instances and after a restart: progress is committed with each
  // batch (and renews the lease), so an interrupted request resumes where it stopped; a request
  // whose lease was taken over after it ended is dropped at the next batch.
  bool work(std::chrono::milliseconds budget);

 private:
  enum class Progress { kFinished, kOutOfTime, kLeaseLost };

  // Deletes one batch inside `range`; returns the number deleted and sets `last_end` to the end
  // of the last deleted segment. With `request`, its progress is updated in the same transaction
  // (and `*request` after the commit), which rolls back when the lease was lost (LeaseLost).
  int64_t delete_batch(const std::string& flow_id, const time::TimeRange& range,
                       const std::optional<std::string>& object_id, int64_t& last_end,
                       store::DeletionRequestRecord* request);
  void check_flow(const std::string& flow_id);
  Outcome run(const std::string& flow_id, const time::TimeRange& range,
              const std::optional<std::string>& object_id, bool delete_flow, const Principal& who);
  // Continues a claimed request until it is finished, the deadline passes or the lease is lost.
  Progress continue_request(store::DeletionRequestRecord& request,
                            std::chrono::steady_clock::time_point deadline);
  // Removes the flow when asked and records the request as done; false when the lease was lost.
  bool finish(const store::DeletionRequestRecord& request);
  // Gives the lease on a claimed request up (its document as last committed).
  void release(const store::DeletionRequestRecord& request);

  store::MetadataStore& store_;
  Flows& flows_;
  DeletionOptions options_;
  MetadataCache* cache_;
};

}  // namespace tams::core
