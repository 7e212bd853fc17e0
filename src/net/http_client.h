#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace meter::net {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string_view body;             // must outlive send()
  std::string user;                  // HTTP basic auth when not empty
  std::string password;
  std::chrono::milliseconds timeout = std::chrono::seconds(30);  // the whole exchange
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(3);
};

struct HttpResponse {
  long status = 0;
  std::string body;
};

// A request to a meterd server's API: `method` on base_url + path, JSON (or NDJSON when
// `ndjson`), with the API key as a Bearer token when one is given.
HttpRequest meterd_request(std::string method, const std::string& base_url, std::string_view path,
                           const std::string& api_key, std::string_view body, bool ndjson = false);

// A blocking HTTP/1.1 client over libcurl that keeps its connection open between requests
// (keep-alive). One object per thread: it is not thread-safe. A deadline of the calling thread
// (core/deadline.h) shortens the timeout and stops the transfer when it passes or is cancelled.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any HTTP status is a response; only a transport failure (cannot connect, timeout) is an
  // error, of code kUnavailable with curl's explanation.
  Result<HttpResponse> send(const HttpRequest& request);

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

}  // namespace meter::net
