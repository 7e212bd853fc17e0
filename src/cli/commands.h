#pragma once

#include <rapidjson/document.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/load.h"
#include "core/error.h"
#include "core/time.h"

namespace meter::cli {

struct Billing;

struct Stores;

// Each `meterd` subcommand; returns the process exit code.
int run_serve(const config::LoadedConfig& loaded, bool demo = false);
int run_config_show(const config::LoadedConfig& loaded);

struct KeysCreateArgs {
  std::string tenant;
  bool admin = false;
  std::string name;
};
int run_keys_create(const config::LoadedConfig& loaded, const KeysCreateArgs& args);
int run_keys_list(const config::LoadedConfig& loaded);
struct QuotaArgs {
  bool set = false;
  std::string tenant;
  std::string url = "http://127.0.0.1:8000";
  std::string api_key;
  std::vector<std::pair<std::string, std::string>> fields;  // body fields, already validated
  bool json = false;                                        // print meterd's JSON answer instead of a table
};
int run_quota(const QuotaArgs& args);

// `meterd credits balance|grant|void|ledger` (credits_cmd.cc): a client of a running meterd.
struct CreditsArgs {
  std::string action;  // balance, grant, void, activate, ledger, rules
  std::string tenant;
  std::string url = "http://127.0.0.1:8000";
  std::string api_key;
  bool json = false;
  // grant
  std::string amount, category, name, expires_at, expires_on, expires_after, effective_at, idempotency_key;
  std::optional<int> priority;
  std::vector<std::string> scope;
  // void, activate
  std::string grant_id;
};
int run_credits(const CreditsArgs& args);

int run_migrate(const config::LoadedConfig& loaded);

struct ReconcileArgs {
  std::string tenant;  // empty = every tenant
  std::string month;   // YYYY-MM; empty = every month
};
int run_reconcile(const config::LoadedConfig& loaded, const ReconcileArgs& args);
// reconcile_credits.cc: the credit ledger against its projections and the raw events; 1 on a problem.
int report_credits(Billing& b, const std::string& only_tenant);

struct CorrectionsArgs {
  std::string tenant;
  std::size_t limit = 100;
};
int run_corrections(const config::LoadedConfig& loaded, const CorrectionsArgs& args);
int run_retention(const config::LoadedConfig& loaded, bool dry_run);

struct ReplayArgs {
  std::string file;
  std::string url;
  std::string api_key;
  std::size_t batch = 1000;
};
int run_replay(const ReplayArgs& args);

struct InvoiceArgs {
  std::string tenant;
  std::string month;  // YYYY-MM
  std::string format = "json";
  bool from_raw = false;
};
int run_invoice(const config::LoadedConfig& loaded, const InvoiceArgs& args);
struct BillingRunArgs {
  std::string month;
  std::filesystem::path out = "invoices";
};
int run_billing_run(const config::LoadedConfig& loaded, const BillingRunArgs& args);

// Prints a successful JSON answer for people; without one the JSON itself is printed.
using Printer = std::function<void(const rapidjson::Document&)>;
// A field of a JSON answer as text for a table: strings, booleans and integers; "-" otherwise.
std::string json_text(const rapidjson::Value& v, const char* key);

// One request to a running meterd's API. A 2xx answer goes to stdout (through `print` when
// given), 0; an error answer is said on stderr as "STATUS Title: detail (field)", 1.
int call_meterd(const std::string& method, const std::string& url, const std::string& api_key,
                const std::string& body, const char* command, const Printer& print = {},
                const std::vector<std::string>& headers = {});

// `meterd demo`: loads the demo data set into the store; load_demo() is also `serve --demo`.
int run_demo(const config::LoadedConfig& loaded);
Result<std::string> load_demo(Stores& stores, Timestamp now);

int run_keys_revoke(const config::LoadedConfig& loaded, const std::string& key_id);

// Applies server.log_level and server.log_format to the default logger (stderr).
void setup_logging(const config::Config& config);

}  // namespace meter::cli
