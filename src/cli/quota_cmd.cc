// `meterd quota show|set`: a client of a running meterd's /v1/tenants/{t}/quotas, so that the
// server's live settings change at once (it keeps them in memory).
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/identifier.h"
#include "net/http_client.h"

namespace meter::cli {

int run_quota(const QuotaArgs& args) {
  if (auto why = check_identifier(args.tenant)) {
    std::fprintf(stderr, "meterd quota: --tenant %s\n", why->c_str());
    return 2;
  }
  std::string url = args.url + "/v1/tenants/" + args.tenant + "/quotas";
  if (!args.set) return call_meterd("GET", url, args.api_key, "", "meterd quota");
  std::string body = "{";
  for (const auto& [key, value] : args.fields) {
    bool text = key == "time_zone" || key == "enforcement";
    body += (body.size() > 1 ? "," : "") + ("\"" + key + "\":") + (text ? "\"" + value + "\"" : value);
  }
  body += "}";
  return call_meterd("PUT", url, args.api_key, body, "meterd quota");
}

}  // namespace meter::cli
