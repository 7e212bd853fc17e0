#include "net/http_client.h"

#include <curl/curl.h>

#include <algorithm>

#include "core/deadline.h"

namespace meter::net {
namespace {

std::size_t append_to(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// Stops a transfer whose caller's deadline passed or was cancelled (a shutdown): curl calls
// this at least once a second, also while the other side sends nothing.
int check_deadline(void* deadline, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const Deadline*>(deadline)->passed() ? 1 : 0;
}

}  // namespace

HttpRequest meterd_request(std::string method, const std::string& base_url, std::string_view path,
                           const std::string& api_key, std::string_view body, bool ndjson) {
  HttpRequest request;
  request.method = std::move(method);
  request.url = base_url + std::string(path);
  request.headers = {ndjson ? "Content-Type: application/x-ndjson" : "Content-Type: application/json"};
  if (!api_key.empty()) request.headers.push_back("Authorization: Bearer " + api_key);
  request.body = body;
  return request;
}

struct HttpClient::Handle {
  CURL* curl = curl_easy_init();
  ~Handle() { curl_easy_cleanup(curl); }
};

HttpClient::HttpClient() : handle_(std::make_unique<Handle>()) {}
HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::send(const HttpRequest& request) {
  CURL* curl = handle_->curl;
  if (curl == nullptr) return fail(Error::unavailable("curl_easy_init failed"));
  curl_easy_reset(curl);  // keeps the open connection, forgets the previous request's options
  curl_slist* headers = nullptr;
  for (const std::string& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> guard(headers, curl_slist_free_all);

  HttpResponse response;
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  // Only HTTP: a configured URL (a webhook) must not reach gopher://, file://, dict://, ...
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  if (!request.user.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, request.user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, request.password.c_str());
  }
  // The caller's deadline, when it has one, shortens the timeout and can stop the transfer.
  auto timeout = time_left(request.timeout);
  if (timeout.count() <= 0)
    return fail(Error::unavailable("the request's deadline passed before it was sent"));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(timeout, request.connect_timeout).count()));
  if (const Deadline* deadline = Deadline::current()) {
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, check_deadline);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, deadline);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  }
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_ABORTED_BY_CALLBACK)
    return fail(Error::unavailable("no answer before the request's deadline"));
  if (rc != CURLE_OK) return fail(Error::unavailable(curl_easy_strerror(rc)));
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace meter::net
