// Flows: creation and full replacement, per-property sub-resources, collections, deletion.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>

#include "tams/core/metadata_cache.h"
#include "tams/core/principal.h"
#include "tams/model/paging.h"
#include "tams/store/metadata_store.h"
#include "tams/time/timerange.h"

namespace tams::core {

// The flow properties that have their own sub-resource (`/flows/{id}/{property}`), apart from
// tags which have a collection of their own.
enum class FlowProperty { kLabel, kDescription, kReadOnly, kFlowCollection, kMaxBitRate, kAvgBitRate };

// The JSON name of a property ("label", "read_only", "max_bit_rate", ...).
const char* property_name(FlowProperty property);

// TAMS semantics of /flows. Thread-safe (stateless over a thread-safe store).
// Every method throws core::Error: kNotFound for a missing or malformed flow id, kBadRequest for
// invalid input (the summary names the field), kReadOnly for a write to a read-only flow.
class Flows {
 public:
  // `cache` (optional, outliving this) keeps flow documents; every write here invalidates it.
  explicit Flows(store::MetadataStore& store, MetadataCache* cache = nullptr)
      : store_(store), cache_(cache) {}

  model::Page<boost::json::object> list(const store::FlowFilter& filter,
                                        const model::PageRequest& page);

  // The flow with its computed `collected_by`; with `include_timerange`, also `timerange`: the
  // extent of the segments overlapping `limit` ("()" when there are none).
  boost::json::object get(const std::string& id, bool include_timerange = false,
                          const time::TimeRange& limit = time::TimeRange::eternity());
  // The flow with its computed `collected_by` as JSON text, shared (from the cache when there is
  // one).
  std::shared_ptr<const std::string> document_json(const std::string& id);

  struct PutResult {
    bool created = false;
    boost::json::object flow;  // the stored flow, as GET would return it
  };
  // Creates or fully replaces the flow. The body must validate against the spec schema of its
  // format; server-managed properties in it are ignored. Creates the source when it is new.
  PutResult put(const std::string& id, const boost::json::value& body, const Principal& who);

  // Deletes the flow with any segments it still has, drops it from other flows' collections,
  // and deletes its source when this was the source's last flow. (DELETE /flows/{id} goes
  // through Deletions, which removes the segments in batches first.)
  void remove(const std::string& id, const Principal& who);

  boost::json::object tags(const std::string& id);
  std::string tag(const std::string& id, const std::string& name);
  void put_tag(const std::string& id, const std::string& name, const boost::json::value& value,
               const Principal& who);
  void delete_tag(const std::string& id, const std::string& name, const Principal& who);

  // GET of a property: kNotFound when the flow is missing or the property is unset
  // (read_only reads as false when unset).
  boost::json::value property(const std::string& id, FlowProperty property);
  // PUT of a property, validated by the spec's rules for it. read_only may be set on a
  // read-only flow; every other property may not.
  void put_property(const std::string& id, FlowProperty property, const boost::json::value& value,
                    const Principal& who);
  // DELETE of a property (not allowed for read_only).
  void delete_property(const std::string& id, FlowProperty property, const Principal& who);

  // Adds the computed `collected_by` to a stored flow document.
  static void decorate(store::Reader& reader, boost::json::object& flow);

 private:
  // Loads the flow in a write transaction, refuses read-only flows (unless `allow_read_only`),
  // applies `change`, stamps the metadata, and stores it.
  template <class F>
  void update(const std::string& id, const Principal& who, bool allow_read_only, F&& change);

  store::MetadataStore& store_;
  MetadataCache* cache_;
};

}  // namespace tams::core
