// PUT, GET and HEAD /media/{objectId*}: the local media store's object bytes at the signed URLs
// LocalMediaStore::put_url and get_url hand out. The routes are public: the URL's signature is
// the credential, and anything wrong with it is one 403 that never says what was wrong.
//
// PUT streams the body into the store (never into memory) and answers 201 for a new object or
// 200 when it replaced one, with the ETag. GET/HEAD answer 200 with Content-Type,
// Content-Length, ETag and Accept-Ranges; one `Range: bytes=` range gives 206 (416 when it is
// unsatisfiable), several ranges give the whole object; If-None-Match with the ETag gives 304.
#pragma once

#include "tams/http/router.h"
#include "tams/media/local_media_store.h"

namespace tams::api {

// Registers the routes; `store` must outlive `router`.
void add_media_routes(http::Router& router, media::LocalMediaStore& store);

}  // namespace tams::api
