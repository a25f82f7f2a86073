// MetadataStore: where sources, flows and service settings live. Implemented by sqlite/ (the
// embedded default) and postgres/ (PostgreSQL with read replicas). Only store/ speaks SQL.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tams/model/paging.h"
#include "tams/store/change.h"
#include "tams/time/timerange.h"

namespace tams::store {

// Documents are the JSON objects of the API (source.json, flow.json) as stored: every
// client-settable and server-managed property, but not the computed ones (a flow's
// `collected_by` and `timerange`, a source's `source_collection` and `collected_by`), which the
// store answers separately.
using Document = boost::json::object;

struct TagFilters {
  std::vector<std::pair<std::string, std::string>> equals;  // tag.{name}={value}
  std::vector<std::pair<std::string, bool>> exists;         // tag_exists.{name}={bool}
};

struct SourceFilter {
  std::optional<std::string> label;
  std::optional<std::string> format;
  TagFilters tags;
};

struct FlowFilter {
  std::optional<std::string> source_id;
  std::optional<std::string> format;
  std::optional<std::string> codec;
  std::optional<std::string> label;
  std::optional<int64_t> frame_width;
  std::optional<int64_t> frame_height;
  TagFilters tags;
  // Flows with a segment overlapping this range; the empty range selects flows with no
  // segments at all. Unset: no timeline filtering.
  std::optional<time::TimeRange> timerange;
};

struct CollectionMember {
  std::string id;
  std::string role;
};

// A registered segment. `doc` is the segment as stored (flow-segment-post.json properties:
// object_id, timerange in canonical form, ts_offset, last_duration, sample_offset, sample_count,
// key_frame_count, and the client's own `get_urls` when it gave any). [start_ns, end_ns) is its
// half-open timeline position.
struct SegmentRecord {
  std::string flow_id;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  std::string object_id;
  // Empty from list_segments, which gives doc_json instead.
  Document doc;
  // list_segments only: the document as stored, a JSON object's text, so that a listing can be
  // sent without parsing and re-serializing each segment.
  std::string doc_json;
  // From the object's row when listing: the storage backend holding the object, empty for an
  // object held elsewhere (external, with client get_urls only).
  std::string storage_id;
};

struct SegmentQuery {
  std::string flow_id;
  // Segments overlapping this range (eternity: all).
  time::TimeRange timerange = time::TimeRange::eternity();
  std::optional<std::string> object_id;  // only segments of this object
  bool reverse_order = false;            // newest first
  // Keyset position: `after` is the start_ns (decimal) of the last segment of the previous page;
  // the next page continues strictly after it in the listing order. Empty: first page.
  model::PageRequest page;
};

// A media object known to the store: allocated in one of our storage backends, or first seen in
// a segment with client-supplied get_urls (external).
struct ObjectRecord {
  std::string id;
  std::string storage_id;            // empty for an external object
  std::string allocated_for_flow;    // flow whose /storage allocated it; empty if external
  std::string first_referenced_by_flow;  // empty until a segment references it
  int64_t reference_count = 0;       // number of segments (any flow) referencing it
  bool ever_referenced = false;      // some segment has referenced it at some point
  int64_t expires_at = 0;            // unix seconds: an allocation never registered by then is
                                     // garbage (0 = never expires)
};

// A flow deletion request (deletion-request.json) and the state the worker needs.
struct DeletionRequestRecord {
  std::string id;
  std::string flow_id;
  Document doc;  // the deletion-request.json body as last updated
};

// ---- Webhooks (migration 3) ----

// One event of the outbox, written in the transaction of the change it describes, so an event
// exists iff its change committed. `seq` orders all events (assigned by add_event, never reused).
struct EventRecord {
  int64_t seq = 0;
  std::string type;       // "flows/created", ...
  std::string timestamp;  // event_timestamp, RFC 3339
  Document subject;       // what registration filters look at (core/events.h)
  Document payload;       // the event's content in core's internal form (core/events.h)
};

// A webhook registration and its delivery progress. Identity: (url, api_key_name); an absent
// api_key_name is "".
struct WebhookRecord {
  int64_t id = 0;  // internal, never shown; assigned by put_webhook
  std::string url;
  std::string api_key_name;
  Document doc;          // the registration as accepted (webhook-post.json, api_key_value too)
  std::string base_url;  // where receivers reach this instance (for get_urls)
  int64_t cursor = 0;    // seq of the last event handled (delivered, skipped or given up)
  int64_t attempts = 0;  // failed attempts at the next matching event after `cursor`
  int64_t next_attempt_ms = 0;  // unix ms: no attempt before this
  std::string last_error;       // of the last failed attempt
};

// ---- Background work across instances (migration 4) ----
//
// Several tams instances may share one store. Each item of background work (a deletion request,
// a webhook registration's delivery, the bytes of a collected media object) is worked on by one
// instance at a time, under a lease: a claim marks free items as held by its owner until a time,
// in one atomic statement, and never returns an item another owner holds with a lease that has
// not ended. Progress writes name the owner and apply only while it still holds the item, so an
// instance that stalled past its lease and was taken over cannot overwrite the new holder's
// progress (it learns that from the result and stops). Times are unix milliseconds.
struct LeaseClaim {
  std::string owner;     // the claiming instance (core::JobLease::owner), never empty
  int64_t now_ms = 0;    // a lease ending at or before this is free
  int64_t until_ms = 0;  // the end of the leases taken (or renewed) by the claim
  int64_t limit = 1;     // at most this many items
};

// The bytes of a media object whose row the garbage collector has removed, waiting to be
// deleted from its storage backend. Kept durably so a crash between the row and the bytes
// deletion leaves no orphaned bytes.
struct MediaDeletionRecord {
  std::string object_id;
  std::string storage_id;
};

// A delivery given up after the last allowed attempt.
struct WebhookFailureRecord {
  int64_t webhook_id = 0;
  std::string url;
  int64_t event_seq = 0;
  std::string event_type;
  int64_t attempts = 0;
  std::string last_error;
  std::string failed_at;  // RFC 3339
};

// Read access. Implementations are used by one thread at a time (each reader is handed out for
// the duration of one read() or write() call).
class Reader {
 public:
  virtual ~Reader() = default;

  virtual std::optional<Document> get_source(const std::string& id) = 0;
  virtual std::optional<Document> get_flow(const std::string& id) = 0;

  // Items in ascending id order strictly after page.after (an id; empty = from the start), at most
  // page.limit of them; `next` is set (to the last id returned) when more items follow.
  virtual model::Page<Document> list_sources(const SourceFilter& filter,
                                             const model::PageRequest& page) = 0;
  virtual model::Page<Document> list_flows(const FlowFilter& filter,
                                           const model::PageRequest& page) = 0;

  // Ids of the flows whose flow_collection lists `flow_id`, ascending.
  virtual std::vector<std::string> flow_collected_by(const std::string& flow_id) = 0;
  // The sources of the members of the collections of this source's flows, with the members'
  // roles, ordered by source id then role, without duplicates.
  virtual std::vector<CollectionMember> source_collection(const std::string& source_id) = 0;
  // Ids of the sources of the flows that collect any flow of this source, ascending.
  virtual std::vector<std::string> source_collected_by(const std::string& source_id) = 0;
  // The `timerange` strings of the first and the last segment of the flow that overlap `range`,
  // in timeline order, or nullopt when none does (or the range is empty). A few index seeks,
  // whatever the number of segments.
  virtual std::optional<std::pair<std::string, std::string>> segment_bounds(
      const std::string& flow_id, const time::TimeRange& range) = 0;
  // Number of flows whose source_id is `source_id`.
  virtual int64_t count_flows_of_source(const std::string& source_id) = 0;

  // A service-level setting (e.g. "name", "description"), or nullopt when unset.
  virtual std::optional<std::string> get_setting(const std::string& key) = 0;

  // ---- Segments ----

  // A page of segments in timeline order (or reverse), O(log n + page) whatever the flow's
  // size: the first overlapping segment is found by one seek, then the index is walked.
  // `next` is the start_ns (decimal) of the last returned segment when more follow.
  virtual model::Page<SegmentRecord> list_segments(const SegmentQuery& query) = 0;
  // True when a segment of the flow overlaps the half-open [start_ns, end_ns).
  virtual bool segment_overlaps(const std::string& flow_id, int64_t start_ns, int64_t end_ns) = 0;
  // True when the flow has at least one segment.
  virtual bool has_segments(const std::string& flow_id) = 0;

  // ---- Objects ----

  virtual std::optional<ObjectRecord> get_object(const std::string& id) = 0;
  // The ids of the flows with at least one segment referencing the object, ascending, keyset
  // paged on the flow id.
  virtual model::Page<std::string> object_flows(const std::string& object_id,
                                                const model::PageRequest& page) = 0;
  // Objects that are garbage at unix time `now`: allocations never referenced whose expiry has
  // passed, and objects once referenced whose reference_count fell to 0. At most `limit`.
  virtual std::vector<ObjectRecord> garbage_objects(int64_t now, int64_t limit) = 0;

  // ---- Deletion requests ----

  virtual std::optional<DeletionRequestRecord> get_deletion_request(const std::string& id) = 0;
  // All deletion requests, oldest first.
  virtual std::vector<DeletionRequestRecord> list_deletion_requests() = 0;

  // ---- Webhooks ----

  // True when at least one webhook is registered (events are only written then).
  virtual bool webhooks_registered() = 0;
  // All registrations in registration order.
  virtual std::vector<WebhookRecord> list_webhooks() = 0;
  // Events with seq > `after`, ascending, at most `limit`.
  virtual std::vector<EventRecord> events_after(int64_t after, int64_t limit) = 0;
  // The most recent failures (given-up deliveries), newest first, at most `limit`.
  virtual std::vector<WebhookFailureRecord> list_webhook_failures(int64_t limit) = 0;
};

// Read and write access inside one transaction. Writes become visible to others only when the
// transaction commits.
class WriteTransaction : public Reader {
 public:
  // Inserts or replaces the source with doc["id"]; keeps the tag index in step with doc["tags"].
  virtual void put_source(const Document& source) = 0;
  virtual void delete_source(const std::string& id) = 0;
  // Inserts or replaces the flow with doc["id"]; keeps the filter columns, tag index and
  // collection index in step with the document.
  virtual void put_flow(const Document& flow) = 0;
  // Removes the flow, its tags and its collection rows (as collector). Rows naming it as a member
  // of other flows' collections are left to the caller (core removes them from those documents).
  virtual void delete_flow(const std::string& id) = 0;
  virtual void put_setting(const std::string& key, const std::string& value) = 0;

  // Sets the flow's segments_updated timestamp (kept outside the document so that segment
  // writes do not rewrite it; get_flow/list_flows merge it into the returned document).
  virtual void set_segments_updated(const std::string& flow_id, const std::string& when) = 0;

  // Inserts a segment. The caller has checked overlap. Also counts the reference on the
  // object's row (which must exist): reference_count + 1, ever_referenced, and
  // first_referenced_by_flow when unset.
  virtual void insert_segment(const SegmentRecord& segment) = 0;
  // Deletes up to `limit` segments of the flow that lie completely inside `range` (and belong
  // to `object_id` when given), in timeline order, and returns them (without storage_id).
  // Decrements their objects' reference counts. O(log n + deleted).
  virtual std::vector<SegmentRecord> delete_segments(const std::string& flow_id,
                                                     const time::TimeRange& range,
                                                     const std::optional<std::string>& object_id,
                                                     int64_t limit) = 0;

  // Inserts or replaces an object row (all fields as given).
  virtual void put_object(const ObjectRecord& object) = 0;
  virtual void delete_object(const std::string& id) = 0;
  // Removes up to `limit` objects that are garbage at unix time `now` (as garbage_objects lists
  // them, judged inside this transaction, so a segment registered before it commits saves its
  // object) and queues the bytes of those in a storage backend as media deletions. Returns the
  // removed rows.
  virtual std::vector<ObjectRecord> take_garbage_objects(int64_t now, int64_t limit) = 0;
  // Claims queued media deletions whose lease is free or ended (never ones already held, even
  // by claim.owner: a deletion that failed is retried only after its lease ends), each now held
  // until claim.until_ms. Order unspecified.
  virtual std::vector<MediaDeletionRecord> claim_media_deletions(const LeaseClaim& claim) = 0;
  // Removes a media deletion from the queue once its bytes are gone (whoever holds it: deleting
  // bytes twice is harmless).
  virtual void delete_media_deletion(const std::string& object_id) = 0;

  // Inserts or replaces a deletion request (its lease, if any, is kept).
  virtual void put_deletion_request(const DeletionRequestRecord& request) = 0;
  // Claims pending deletion requests (doc status "created" or "started") that no other owner
  // holds: free ones and ones whose lease ended. Returns them oldest first (by `created`, then
  // id), each now held by claim.owner until claim.until_ms.
  virtual std::vector<DeletionRequestRecord> claim_deletion_requests(const LeaseClaim& claim) = 0;
  // Replaces the request's document (progress) and sets its lease end to `until_ms` (a renewal;
  // 0 gives the lease up), only while `owner` holds it. False, and nothing written, when it does
  // not (taken over after the lease ended, or the request is gone).
  virtual bool update_deletion_request(const DeletionRequestRecord& request,
                                       const std::string& owner, int64_t until_ms) = 0;
  // Removes deletion requests whose doc `expiry` (RFC 3339) is before `now_rfc3339`.
  virtual void purge_deletion_requests(const std::string& now_rfc3339) = 0;

  // ---- Webhooks ----

  // Appends an event to the outbox and returns its seq. The caller checks webhooks_registered()
  // first (an event nobody can receive need not be written).
  virtual int64_t add_event(const EventRecord& event) = 0;
  // Registers (url, api_key_name) or, when registered, replaces its doc and base_url keeping its
  // id and delivery progress. A new registration starts after the latest event: it receives
  // only events committed after it. Returns the id.
  virtual int64_t put_webhook(const WebhookRecord& webhook) = 0;
  // Removes the registration; false when there was none.
  virtual bool delete_webhook(const std::string& url, const std::string& api_key_name) = 0;
  // Claims registrations for delivery and returns every registration claim.owner now holds, in
  // id order, current as of this transaction. Claimed: at most claim.limit free ones (never
  // leased, released, or lease ended) that are due (next_attempt_ms <= claim.now_ms) and have
  // events after their cursor. Renewed: the owner's own whose lease has less than half of
  // (claim.until_ms - claim.now_ms) left. Both then hold until claim.until_ms; the owner's other
  // leases are left as they are, so a pass that changes nothing writes nothing.
  virtual std::vector<WebhookRecord> claim_webhooks(const LeaseClaim& claim) = 0;
  // Gives up `owner`'s lease on registration `id` so any instance may claim it at once. False
  // when `owner` does not hold it.
  virtual bool release_webhook(int64_t id, const std::string& owner) = 0;
  // Records delivery progress of registration `id`, only while `owner` holds it (the lease end
  // is not checked: a holder late but not taken over still counts). False, and nothing written,
  // when another owner holds it, it was released, or it is gone.
  virtual bool set_webhook_progress(int64_t id, const std::string& owner, int64_t cursor,
                                    int64_t attempts, int64_t next_attempt_ms,
                                    const std::string& last_error) = 0;
  // Records a given-up delivery (the newest 1,000 are kept).
  virtual void add_webhook_failure(const WebhookFailureRecord& failure) = 0;
  // Removes the events every registration has passed (all of them when none is registered).
  // Returns the number removed.
  virtual int64_t purge_events() = 0;
};

// The metadata store. Thread-safe: any number of threads may call read() and write()
// concurrently; writes are serialized.
// Connections of one database endpoint in one state, for metrics.
struct PoolConnections {
  std::string endpoint;  // "sqlite", or a PostgreSQL server as host:port (never credentials)
  std::string role;      // SQLite: "reader" or "writer"; PostgreSQL: "primary" or "replica"
  std::string state;     // "in_use" or "idle"
  int64_t count = 0;
};

// What the database holds, from counts kept current by every write (never a scan).
struct StoredCounts {
  int64_t segments = 0;
  int64_t flows = 0;
  int64_t sources = 0;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // How many connections are in use and idle now, per endpoint and role. Lock-free or nearly;
  // never touches the database.
  virtual std::vector<PoolConnections> pool_usage() const = 0;
  // Reads the kept counts. Throws std::runtime_error (or store::Unavailable) when the database
  // does not answer.
  virtual StoredCounts stored_counts() = 0;
  // Why the store cannot serve requests now (nullopt: it can), for GET /health/ready. The
  // reason may name paths and hosts (for the log, not for clients).
  virtual std::optional<std::string> not_ready() = 0;

  // Runs `fn` with a consistent snapshot. Exceptions from `fn` propagate.
  virtual void read(const std::function<void(Reader&)>& fn) = 0;

  // One page of segments, as Reader::list_segments inside read() gives it. A store whose page
  // is a single statement may skip the transaction around it (PostgreSQL: one round trip
  // instead of three); the snapshot is then the statement's own, equally consistent.
  virtual model::Page<SegmentRecord> read_segment_page(const SegmentQuery& query) {
    model::Page<SegmentRecord> page;
    read([&](Reader& r) { page = r.list_segments(query); });
    return page;
  }

  // Runs `fn` inside one write transaction: commits durably when `fn` returns, rolls back
  // everything `fn` wrote when it throws (and rethrows). Nothing is partially written.
  virtual void write(const std::function<void(WriteTransaction&)>& fn) = 0;

  // Called on the committing thread right after a write transaction that added events has
  // committed (the webhook worker's wake-up). Set it before concurrent use; empty: none.
  virtual void set_event_listener(std::function<void()> listener) {}

  // Called with each change that *other* processes sharing this store commit, on a thread of the
  // store's, so that what this process keeps in memory can follow them; after a time in which
  // changes may have been missed, with one Change::Kind::kEverything. Set it before concurrent
  // use; empty: none (stops listening). Stores that announce nothing (SQLite, one process per
  // file) ignore it.
  virtual void set_change_listener(ChangeListener listener) {}
};

}  // namespace tams::store
