#include "tams/media/media_store.h"

#include "tams/obs/metrics.h"

namespace tams::media {

void MediaStore::count_signed_url(SignedMethod method) const {
  auto& slot = method == SignedMethod::kGet ? signed_get_ : signed_put_;
  obs::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Racing first calls resolve the same series; either store is fine.
    counter = &obs::Registry::global()
                   .counter("tams_presigned_urls_total",
                            "Media URLs signed, by storage backend and HTTP method.",
                            {"storage_id", "method"})
                   .with({backend().id, method == SignedMethod::kGet ? "GET" : "PUT"});
    slot.store(counter, std::memory_order_release);
  }
  counter->inc();
}

}  // namespace tams::media
