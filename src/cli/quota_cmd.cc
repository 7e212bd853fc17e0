// `meterd quota show|set`: a client of a running meterd's /v1/tenants/{t}/quotas, so that the
// server's live settings change at once (it keeps them in memory).
#include <curl/curl.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/identifier.h"

namespace meter::cli {
namespace {

std::size_t append(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// Sends one request; prints the body; exit code 0 for 2xx, 1 otherwise.
int call(const std::string& method, const std::string& url, const std::string& api_key, const std::string& body) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  std::string auth = "Authorization: Bearer " + api_key;
  if (!api_key.empty()) headers = curl_slist_append(headers, auth.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> guard(headers, curl_slist_free_all);
  std::string answer;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  if (!body.empty()) curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 30L);
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    std::fprintf(stderr, "meterd quota: cannot reach %s: %s (is meterd running? see --url)\n", url.c_str(),
                 curl_easy_strerror(rc));
    return 1;
  }
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  std::printf("%s\n", answer.c_str());
  return status >= 200 && status < 300 ? 0 : 1;
}

}  // namespace

int run_quota(const QuotaArgs& args) {
  if (auto why = check_identifier(args.tenant)) {
    std::fprintf(stderr, "meterd quota: --tenant %s\n", why->c_str());
    return 2;
  }
  std::string url = args.url + "/v1/tenants/" + args.tenant + "/quotas";
  if (!args.set) return call("GET", url, args.api_key, "");
  std::string body = "{";
  for (const auto& [key, value] : args.fields) {
    bool text = key == "time_zone" || key == "enforcement";
    body += (body.size() > 1 ? "," : "") + ("\"" + key + "\":") + (text ? "\"" + value + "\"" : value);
  }
  body += "}";
  return call("PUT", url, args.api_key, body);
}

}  // namespace meter::cli
