// Building responses: JSON bodies, error.json bodies, status mapping of core errors.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string_view>

#include "tams/core/error.h"
#include "tams/http/message.h"

namespace tams::http {

// 200/201 with a JSON body.
Response json_response(int status, const boost::json::value& body);
// The same for an object or array, serialized in place (no copy into a value first).
Response json_response(int status, const boost::json::object& body);
Response json_response(int status, const boost::json::array& body);
// A JSON body already serialized (e.g. a cached listing page).
Response json_text_response(int status, std::string body);
// 204, no body.
Response no_content();

// An error.json-shaped body {"type", "summary", "time"} with the given status.
Response error_response(int status, std::string_view type, std::string_view summary);
// The status and body for a typed core error.
Response error_response(const core::Error& error);

}  // namespace tams::http
