// Webhook registrations (/service/webhooks): validation, identity, filters and the bodies sent.
// Delivery itself is jobs::WebhookDelivery's.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tams/core/events.h"
#include "tams/core/get_urls.h"
#include "tams/core/url_policy.h"
#include "tams/media/backends.h"
#include "tams/store/metadata_store.h"

namespace tams::core {

// The filters and get_urls transforms of a registration, read from its stored document.
struct WebhookFilters {
  std::vector<std::string> events;  // event types to receive
  // Set filters (ADR 0026). Unset: no filtering; an empty list passes no event it applies to.
  std::optional<std::vector<std::string>> flow_ids;                 // flow events only
  std::optional<std::vector<std::string>> source_ids;               // every event
  std::optional<std::vector<std::string>> flow_collected_by_ids;    // flow events only
  std::optional<std::vector<std::string>> source_collected_by_ids;  // every event
  GetUrlsFilter get_urls;                                           // for flows/segments_added

  static WebhookFilters from_doc(const boost::json::object& registration);
};

// Whether an event of `type` about `subject` passes the registration's filters: the type is
// listed and every set filter that applies to the event passes (AND).
bool matches(const WebhookFilters& filters, std::string_view type, const EventSubject& subject);

// The body POSTed for `event`: {event_timestamp, event_type, event}, with the segments of
// flows/segments_added formatted as GET /flows/{id}/segments formats them, get_urls built now
// (fresh signatures) through the registration's transforms. `base_url`: where the receiver
// reaches this instance.
boost::json::object render_event(const store::EventRecord& event, const WebhookFilters& filters,
                                 const media::Backends& backends, const std::string& base_url);

// TAMS semantics of /service/webhooks. Thread-safe.
class Webhooks {
 public:
  Webhooks(store::MetadataStore& store, UrlPolicy policy)
      : store_(store), policy_(std::move(policy)) {}

  // webhook.json items in registration order, without api_key_value.
  boost::json::array list();

  struct PostResult {
    bool removed = false;              // events was empty: the registration is gone (204)
    boost::json::object registration;  // as list() shows it, when registered or updated (201)
  };
  // Registers, updates (same url and api_key_name) or, with an empty `events`, removes a
  // registration. kBadRequest (naming the field) for a body that is not webhook-post.json, an
  // unknown property, an unknown event type, an unusable api key header, or a URL the policy
  // refuses. `base_url` is where the registrant reached this instance (used for get_urls).
  PostResult post(const boost::json::value& body, const std::string& base_url);

  const UrlPolicy& policy() const { return policy_; }

 private:
  store::MetadataStore& store_;
  UrlPolicy policy_;
};

}  // namespace tams::core
