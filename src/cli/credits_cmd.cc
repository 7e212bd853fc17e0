// `meterd credits balance|grant|void|activate|ledger|rules`: a client of a running meterd's
// /v1/tenants/{t}/credits API (docs/credits.md), so that the writer applies grants and voids at
// once. People get lines of text; --json gives meterd's answer as it is.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>

#include "cli/commands.h"
#include "core/identifier.h"

namespace meter::cli {
namespace {

std::string text(const rapidjson::Value& v, const char* key) { return json_text(v, key); }

void print_lots(const rapidjson::Value& lots) {
  std::printf("%-44s %-16s %-11s %8s %20s %20s %-24s %s\n", "grant_id", "name", "category", "priority",
              "amount", "remaining", "expires_at", "status");
  for (const auto& l : lots.GetArray()) {
    std::printf("%-44s %-16s %-11s %8s %20s %20s %-24s %s\n", text(l, "grant_id").c_str(),
                text(l, "name").c_str(), text(l, "category").c_str(), text(l, "priority").c_str(),
                text(l, "amount").c_str(), text(l, "remaining").c_str(), text(l, "expires_at").c_str(),
                text(l, "status").c_str());
  }
}

void print_balance(const rapidjson::Document& d) {
  std::printf("tenant %s: %s %s usable now (%s enforcement)\n", text(d, "tenant_id").c_str(),
              text(d, "available").c_str(), text(d, "currency").c_str(), text(d, "enforcement").c_str());
  if (d.HasMember("grants") && d["grants"].IsArray()) print_lots(d["grants"]);
}

void print_lot(const rapidjson::Document& d) {
  std::printf("grant %s of tenant %s: %s of %s remaining (%s)\n", text(d, "grant_id").c_str(),
              text(d, "tenant_id").c_str(), text(d, "remaining").c_str(), text(d, "amount").c_str(),
              text(d, "status").c_str());
}

void print_ledger(const rapidjson::Document& d) {
  std::printf("%8s %-7s %-24s %-8s %-44s %-8s %-16s %20s\n", "txn", "kind", "at", "account", "grant_id",
              "month", "event_type", "amount");
  if (!d.HasMember("transactions") || !d["transactions"].IsArray()) return;
  for (const auto& t : d["transactions"].GetArray()) {
    for (const auto& e : t["entries"].GetArray()) {
      std::printf("%8s %-7s %-24s %-8s %-44s %-8s %-16s %20s\n", text(t, "id").c_str(),
                  text(t, "kind").c_str(), text(t, "at").c_str(), text(e, "account").c_str(),
                  text(e, "grant_id").c_str(), text(e, "month").c_str(), text(e, "event_type").c_str(),
                  text(e, "amount").c_str());
    }
  }
  if (d.HasMember("next_after") && d["next_after"].IsInt64()) {
    std::printf("more: GET .../credits/ledger?after=%lld\n",
                static_cast<long long>(d["next_after"].GetInt64()));
  }
}

void print_rules(const rapidjson::Document& d) {
  std::printf("%-44s %-12s %16s %16s %-8s %16s\n", "rule_id", "kind", "threshold", "amount", "starts",
              "rollover_max");
  if (!d.HasMember("rules") || !d["rules"].IsArray()) return;
  for (const auto& r : d["rules"].GetArray()) {
    std::printf("%-44s %-12s %16s %16s %-8s %16s\n", text(r, "rule_id").c_str(), text(r, "kind").c_str(),
                text(r, "threshold").c_str(), text(r, "amount").c_str(), text(r, "starts").c_str(),
                text(r, "rollover_max").c_str());
  }
}

// The grant's JSON body from the flags given (strings escaped by rapidjson).
std::string grant_body(const CreditsArgs& a) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  auto field = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  field("amount", a.amount);
  field("category", a.category);
  field("name", a.name);
  field("effective_at", a.effective_at);
  field("expires_at", a.expires_at);
  field("expires_on", a.expires_on);
  field("expires_after", a.expires_after);
  if (a.priority) {
    w.Key("priority");
    w.Int(*a.priority);
  }
  if (!a.scope.empty()) {
    w.Key("scope");
    w.StartArray();
    for (const auto& t : a.scope) w.String(t.c_str(), static_cast<rapidjson::SizeType>(t.size()));
    w.EndArray();
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

int run_credits(const CreditsArgs& args) {
  std::string command = "meterd credits " + args.action;
  if (auto why = check_identifier(args.tenant)) {
    std::fprintf(stderr, "%s: --tenant %s\n", command.c_str(), why->c_str());
    return 2;
  }
  std::string base = args.url + "/v1/tenants/" + args.tenant + "/credits";
  auto printer = [&](void (*print)(const rapidjson::Document&)) {
    return args.json ? Printer() : Printer(print);
  };
  if (args.action == "balance")
    return call_meterd("GET", base + "/balance", args.api_key, "", command.c_str(), printer(print_balance));
  if (args.action == "rules")
    return call_meterd("GET", base + "/rules", args.api_key, "", command.c_str(), printer(print_rules));
  if (args.action == "ledger")
    return call_meterd("GET", base + "/ledger?limit=1000", args.api_key, "", command.c_str(),
                       printer(print_ledger));
  if (args.action == "void" || args.action == "activate") {
    if (auto why = check_identifier(args.grant_id)) {
      std::fprintf(stderr, "%s: --grant %s\n", command.c_str(), why->c_str());
      return 2;
    }
    return call_meterd("POST", base + "/grants/" + args.grant_id + "/" + args.action, args.api_key, "",
                       command.c_str(), printer(print_lot));
  }
  // grant: the key makes a retried command grant once; without one, each run is a new grant.
  std::string key = args.idempotency_key.empty() ? new_event_id(SystemClock().now()) : args.idempotency_key;
  return call_meterd("POST", base + "/grants", args.api_key, grant_body(args), command.c_str(),
                     printer(print_lot), {"Idempotency-Key: " + key});
}

}  // namespace meter::cli
