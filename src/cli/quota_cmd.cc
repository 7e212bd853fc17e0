// `meterd quota show|set`: a client of a running meterd's /v1/tenants/{t}/quotas, so that the
// server's live settings change at once (it keeps them in memory).
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/identifier.h"
#include "net/http_client.h"

namespace meter::cli {
namespace {

// Sends one request; prints the body; exit code 0 for 2xx, 1 otherwise.
int call(const std::string& method, const std::string& url, const std::string& api_key, const std::string& body) {
  net::HttpRequest request;
  request.method = method;
  request.url = url;
  request.headers = {"Content-Type: application/json"};
  if (!api_key.empty()) request.headers.push_back("Authorization: Bearer " + api_key);
  request.body = body;
  net::HttpClient client;
  auto response = client.send(request);
  if (!response) {
    std::fprintf(stderr, "meterd quota: cannot reach %s: %s (is meterd running? see --url)\n", url.c_str(),
                 response.error().message.c_str());
    return 1;
  }
  std::printf("%s\n", response->body.c_str());
  return response->status >= 200 && response->status < 300 ? 0 : 1;
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
