// `meterd quota show|set`: a client of a running meterd's /v1/tenants/{t}/quotas, so that the
// server's live settings change at once (it keeps them in memory). People get a table; --json
// gives meterd's answer as it is.
#include <fmt/format.h>

#include <cstdio>

#include "cli/commands.h"
#include "core/identifier.h"

namespace meter::cli {
namespace {

std::string text(const rapidjson::Value& v, const char* key) { return json_text(v, key); }

// One row per meter and period: used, limit, remaining and whether the next event passes.
void print_report(const rapidjson::Document& doc) {
  std::printf("tenant %s  (time zone %s, %s enforcement)\n", text(doc, "tenant_id").c_str(),
              text(doc, "time_zone").c_str(), text(doc, "enforcement").c_str());
  std::printf("%-12s %-6s %16s %16s %16s  %s\n", "meter", "period", "used", "limit", "remaining", "state");
  auto rows = [&](const rapidjson::Value& period, const char* name) {
    if (!period.IsObject() || !period.HasMember("quotas") || !period["quotas"].IsObject()) return;
    for (const auto& m : period["quotas"].GetObject()) {
      std::string state = text(m.value, "exceeded") == "true"   ? "EXCEEDED"
                          : text(m.value, "at_limit") == "true" ? "at limit"
                                                                : "ok";
      std::printf("%-12s %-6s %16s %16s %16s  %s\n", m.name.GetString(), name, text(m.value, "used").c_str(),
                  text(m.value, "limit").c_str(), text(m.value, "remaining").c_str(), state.c_str());
    }
  };
  rows(doc, "day");
  if (doc.HasMember("monthly")) rows(doc["monthly"], "month");
  std::printf("day resets at %s, month at %s\n", text(doc, "resets_at").c_str(),
              doc.HasMember("monthly") ? text(doc["monthly"], "resets_at").c_str() : "-");
}

// The settings a PUT answered with.
void print_settings(const rapidjson::Document& doc) {
  std::printf("updated tenant %s (time zone %s, %s enforcement)\n", text(doc, "tenant_id").c_str(),
              text(doc, "time_zone").c_str(), text(doc, "enforcement").c_str());
  for (const char* key : {"queries_per_day", "queries_per_month", "tokens_per_day", "tokens_per_month",
                          "storage_gb", "storage_gb_per_month"}) {
    std::printf("  %-22s %s\n", key, text(doc, key) == "-" ? "no limit" : text(doc, key).c_str());
  }
}

}  // namespace

int run_quota(const QuotaArgs& args) {
  if (auto why = check_identifier(args.tenant)) {
    std::fprintf(stderr, "meterd quota: --tenant %s\n", why->c_str());
    return 2;
  }
  std::string url = args.url + "/v1/tenants/" + args.tenant + "/quotas";
  if (!args.set) {
    return call_meterd("GET", url, args.api_key, "", "meterd quota",
                       args.json ? Printer() : Printer(print_report));
  }
  std::string body = "{";
  for (const auto& [key, value] : args.fields) {
    bool quoted = key == "time_zone" || key == "enforcement";
    body += (body.size() > 1 ? "," : "") + ("\"" + key + "\":") + (quoted ? "\"" + value + "\"" : value);
  }
  body += "}";
  return call_meterd("PUT", url, args.api_key, body, "meterd quota",
                     args.json ? Printer() : Printer(print_settings));
}

}  // namespace meter::cli
