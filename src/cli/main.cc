#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>

#include "cli/commands.h"
#include "core/decimal.h"
#include "core/identifier.h"

extern char** environ;

namespace meter::cli {
namespace {

// Turns "key=value" flags into overrides; CLI11 has already checked the shape.
std::vector<std::pair<std::string, std::string>> split_sets(const std::vector<std::string>& sets) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& s : sets) {
    auto eq = s.find('=');
    out.emplace_back(s.substr(0, eq), eq == std::string::npos ? "" : s.substr(eq + 1));
  }
  return out;
}

constexpr const char* kGlobalOptions =
    "Global options, before or after the command: --config FILE, --env-file FILE, --listen ADDR:PORT,\n"
    "--data-dir DIR (or METERD_DATA_DIR), --clickhouse URL, --workers N, --log-level LEVEL, --log-format "
    "FORMAT,\n"
    "--set KEY=VALUE (any setting; `meterd config show` lists them).";
constexpr const char* kExitCodes =
    "Exit codes: 0 done; 1 a problem was found or reported (drift, invalid lines, an error answer, a "
    "missing\n"
    "store); 2 a usage or configuration error (unknown command or option, a bad value).";

// Levenshtein distance, for suggesting the command meant.
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The first word that is not an option (nor an option's value) when it names no command, with
// the nearest command name (empty when none is close).
std::optional<std::pair<std::string, std::string>> unknown_command(CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view word = argv[i];
    if (word.starts_with("-")) {
      constexpr std::string_view kWithValue[] = {"--config",     "--env-file", "--listen",  "--data-dir",
                                                 "--clickhouse", "--store",    "--workers", "--log-level",
                                                 "--log-format", "--set"};
      if (std::find(std::begin(kWithValue), std::end(kWithValue), word) != std::end(kWithValue)) ++i;
      continue;
    }
    std::string best;
    std::size_t best_distance = 3;  // suggest only close names
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      if (sub->get_name() == word) return std::nullopt;
      std::size_t d = distance(word, sub->get_name());
      if (d < best_distance || (word.size() >= 3 && sub->get_name().starts_with(word))) {
        best_distance = std::min(d, best_distance);
        best = sub->get_name();
      }
    }
    return std::pair{std::string(word), best};
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meterd: usage metering for multi-tenant SaaS"};
  app.fallthrough();
  app.require_subcommand(1);
  app.set_version_flag("--version", METER_VERSION);

  std::optional<std::string> config_file, env_file, listen, data_dir, workers, log_level, log_format,
      clickhouse, store_url;
  std::vector<std::string> sets;
  app.add_option("--config", config_file, "meterd.toml to read (default: ./meterd.toml if present)");
  app.add_option("--env-file", env_file,
                 "a .env file in the Python service's format (default: ./.env if present)");
  app.add_option("--listen", listen, "address:port to serve on (server.listen)");
  app.add_option("--data-dir", data_dir, "folder of the embedded store (server.data_dir)");
  app.add_option("--clickhouse", clickhouse,
                 "keep events in ClickHouse, e.g. http://127.0.0.1:8123 (clickhouse.host)");
  app.add_option("--store", store_url,
                 "share the store with other nodes: postgresql://user@host:5432/db (store.url)");
  app.add_option("--workers", workers, "HTTP worker threads (server.workers)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  app.add_option("--log-format", log_format, "text or json");
  app.add_option("--set", sets, "any setting, as key=value (e.g. --set buffer.size=500)")
      ->check(
          [](const std::string& s) { return s.find('=') == std::string::npos ? "expected key=value" : ""; });

  auto* serve = app.add_subcommand("serve", "serve the HTTP API (the default store is embedded SQLite)");
  bool serve_demo = false;
  serve->add_flag("--demo", serve_demo, "load the demo data set first (once)");
  auto* demo = app.add_subcommand("demo", "load a demo data set: 4 tenants, two months of usage");
  auto* config_cmd = app.add_subcommand("config", "inspect the configuration");
  auto* config_show =
      config_cmd->add_subcommand("show", "print the effective configuration and where each value came from");
  config_cmd->require_subcommand(1);

  auto* migrate = app.add_subcommand("migrate", "create or upgrade the schemas (embedded store, ClickHouse)");
  std::optional<std::string> migrate_cluster;
  migrate->add_option("--cluster", migrate_cluster,
                      "create ClickHouse's tables on every node of this cluster (clickhouse.cluster)");
  ReconcileArgs reconcile_args;
  auto* reconcile =
      app.add_subcommand("reconcile", "compare raw event sums with the hourly and daily rollups");
  reconcile->add_option("--tenant", reconcile_args.tenant, "one tenant (default: all)");
  reconcile->add_option("--month", reconcile_args.month, "YYYY-MM (default: every month)");
  CorrectionsArgs corrections_args;
  auto* corrections = app.add_subcommand("corrections", "list a tenant's cancelled events, newest first");
  corrections->add_option("--tenant", corrections_args.tenant, "the tenant")->required();
  corrections->add_option("--limit", corrections_args.limit, "at most this many (default 100)")
      ->check(CLI::Range(1, 1'000'000));
  CreditsArgs credits_args;
  auto* credits_cmd = app.add_subcommand("credits", "prepaid credit of a tenant on a running meterd");
  credits_cmd->require_subcommand(1);
  auto* credits_balance = credits_cmd->add_subcommand("balance", "usable credit now, and every grant");
  auto* credits_ledger = credits_cmd->add_subcommand("ledger", "the ledger's first 1,000 transactions");
  auto* credits_grant = credits_cmd->add_subcommand("grant", "grant credit (admin key)");
  auto* credits_void = credits_cmd->add_subcommand("void", "void what a grant still holds (admin key)");
  auto* credits_rules = credits_cmd->add_subcommand("rules", "low-balance, top-up and recurring rules");
  auto* credits_activate =
      credits_cmd->add_subcommand("activate", "a top-up was paid: make its grant spendable (admin key)");
  credits_grant->add_option("--amount", credits_args.amount, "in the tenant's plan currency")->required();
  credits_grant->add_option("--category", credits_args.category, "paid or promotional (default)");
  credits_grant->add_option("--priority", credits_args.priority, "0..100, lower first (default 50)");
  credits_grant->add_option("--name", credits_args.name, "shown on invoices");
  credits_grant->add_option("--scope", credits_args.scope, "event types it pays for (default: all)");
  credits_grant->add_option("--effective-at", credits_args.effective_at, "RFC 3339 (default: month start)");
  credits_grant->add_option("--expires-at", credits_args.expires_at, "RFC 3339 instant, exclusive");
  credits_grant->add_option("--expires-on", credits_args.expires_on, "last local day, YYYY-MM-DD");
  credits_grant->add_option("--expires-after", credits_args.expires_after, "P30D, P2W, P1M, P1Y");
  credits_grant->add_option("--idempotency-key", credits_args.idempotency_key,
                            "grant once however often the command is retried (default: a new key)");
  for (auto* sub : {credits_void, credits_activate})
    sub->add_option("--grant", credits_args.grant_id, "the grant id")->required();
  for (auto* sub :
       {credits_balance, credits_ledger, credits_grant, credits_void, credits_activate, credits_rules}) {
    sub->add_flag("--json", credits_args.json, "print meterd's JSON answer instead of text");
    sub->add_option("--tenant", credits_args.tenant, "the tenant")->required();
    sub->add_option("--url", credits_args.url, "meterd's address")->capture_default_str();
    sub->add_option("--api-key", credits_args.api_key, "an API key (default: $METERD_API_KEY)")
        ->envname("METERD_API_KEY");
  }
  auto* retention_cmd =
      app.add_subcommand("retention", "drop months of raw events older than RETENTION_MONTHS");
  retention_cmd->require_subcommand(1);
  bool dry_run = false;
  auto* retention_apply = retention_cmd->add_subcommand("apply", "drop them (whole monthly partitions)");
  retention_apply->add_flag("--dry-run", dry_run, "only print what would be dropped");
  ReplayArgs replay_args;
  std::optional<std::string> replay_url;
  auto* replay = app.add_subcommand(
      "replay", "send a JSONL file of events (e.g. the Python service's fallback file) to meterd");
  replay->add_option("file", replay_args.file, "the .jsonl file (default: FALLBACK_FILE_PATH)");
  replay->add_option("--url", replay_url, "meterd's address (default: http:// + server.listen)");
  replay->add_option("--api-key", replay_args.api_key, "an API key (default: $METERD_API_KEY)")
      ->envname("METERD_API_KEY");
  replay->add_option("--batch", replay_args.batch, "events per request")->check(CLI::Range(1, 10000));

  InvoiceArgs invoice_args;
  auto* invoice = app.add_subcommand("invoice", "print a tenant's invoice for a month (from the store)");
  invoice->add_option("--tenant", invoice_args.tenant, "the tenant")->required();
  invoice->add_option("--month", invoice_args.month, "YYYY-MM")->required();
  invoice->add_option("--format", invoice_args.format, "json or csv")->check(CLI::IsMember({"json", "csv"}));
  invoice->add_flag("--from-raw", invoice_args.from_raw,
                    "recompute from the raw events instead of the rollups");
  BillingRunArgs billing_args;
  auto* billing_run =
      app.add_subcommand("billing-run", "write every tenant's invoice for a month, and a summary");
  billing_run->add_option("--month", billing_args.month, "YYYY-MM")->required();
  billing_run->add_option("--out", billing_args.out, "folder for the invoices and summary.csv")
      ->capture_default_str();
  std::string plan_tenant, plan_name, plan_url = "http://127.0.0.1:8000", plan_key;
  auto* plan_cmd = app.add_subcommand("plan", "show or set a tenant's plan on a running meterd");
  plan_cmd->require_subcommand(1);
  auto* plan_show = plan_cmd->add_subcommand("show", "the tenant's plan");
  auto* plan_set = plan_cmd->add_subcommand("set", "put the tenant on a plan (admin key)");
  plan_set->add_option("--plan", plan_name, "a plan of meterd.toml (GET /v1/plans)")->required();
  bool plan_json = false;
  for (auto* sub : {plan_show, plan_set}) {
    sub->add_flag("--json", plan_json, "print meterd's JSON answer instead of a line of text");
    sub->add_option("--tenant", plan_tenant, "the tenant")->required();
    sub->add_option("--url", plan_url, "meterd's address")->capture_default_str();
    sub->add_option("--api-key", plan_key, "an API key (default: $METERD_API_KEY)")
        ->envname("METERD_API_KEY");
  }

  auto* keys_cmd = app.add_subcommand("keys", "manage API keys (stored hashed in DATA_DIR/keys.db)");
  keys_cmd->require_subcommand(1);
  KeysCreateArgs create_args;
  auto* keys_create = keys_cmd->add_subcommand("create", "create a key and print it once");
  keys_create->add_option("--tenant", create_args.tenant, "the tenant this key acts for");
  keys_create->add_flag("--admin", create_args.admin, "an admin key: every tenant, quotas, keys, billing");
  keys_create->add_option("--name", create_args.name, "a label for `keys list`");
  auto* keys_list = keys_cmd->add_subcommand("list", "list keys (never the keys themselves)");
  std::string revoke_id;
  auto* keys_revoke = keys_cmd->add_subcommand("revoke", "revoke a key by its id");
  keys_revoke->add_option("key_id", revoke_id, "the KEY_ID shown by `keys list`")->required();

  QuotaArgs quota_args;
  auto* quota_cmd = app.add_subcommand("quota", "show or set a tenant's quota on a running meterd");
  quota_cmd->require_subcommand(1);
  auto* quota_show = quota_cmd->add_subcommand("show", "the tenant's live usage against its limits");
  auto* quota_set = quota_cmd->add_subcommand("set", "change limits, time zone or enforcement (admin key)");
  std::map<std::string, std::string> quota_values;
  for (auto* sub : {quota_show, quota_set}) {
    sub->add_flag("--json", quota_args.json, "print meterd's JSON answer instead of a table");
    sub->add_option("--tenant", quota_args.tenant, "the tenant")->required();
    sub->add_option("--url", quota_args.url, "meterd's address")->capture_default_str();
    sub->add_option("--api-key", quota_args.api_key, "an API key (default: $METERD_API_KEY)")
        ->envname("METERD_API_KEY");
  }
  for (const char* field : {"queries-per-day", "queries-per-month", "tokens-per-day", "tokens-per-month",
                            "storage-gb", "storage-gb-per-month", "time-zone", "enforcement"}) {
    quota_set->add_option(std::string("--") + field, quota_values[field],
                          std::string("the tenant's ") + field);
  }

  // Every subcommand's --help names the global options too.
  std::function<void(CLI::App*)> add_footer = [&](CLI::App* a) {
    for (CLI::App* sub : a->get_subcommands({})) {
      sub->footer(kGlobalOptions);
      add_footer(sub);
    }
  };
  add_footer(&app);
  app.footer(std::string(kGlobalOptions) + "\n\n" + kExitCodes);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One exit code for every usage error; an unknown command is named, with the nearest one.
    if (auto unknown = unknown_command(app, argc, argv)) {
      std::fprintf(stderr, "meterd: unknown command '%s'%s (see meterd --help)\n", unknown->first.c_str(),
                   unknown->second.empty() ? "" : ("; did you mean '" + unknown->second + "'?").c_str());
    } else {
      std::fprintf(stderr, "meterd: %s (see meterd --help)\n", e.what());
    }
    return 2;
  }

  config::ConfigSources sources;
  if (config_file) sources.toml_file = *config_file;
  if (env_file) sources.env_file = *env_file;
  sources.environment = environ;
  sources.overrides = split_sets(sets);
  for (auto [key, value] :
       {std::pair{"server.listen", &listen}, std::pair{"server.data_dir", &data_dir},
        std::pair{"server.workers", &workers}, std::pair{"server.log_level", &log_level},
        std::pair{"server.log_format", &log_format}, std::pair{"clickhouse.host", &clickhouse},
        std::pair{"store.url", &store_url}, std::pair{"clickhouse.cluster", &migrate_cluster}}) {
    if (*value) sources.overrides.emplace_back(key, **value);
  }
  auto loaded = config::load_config(sources);
  if (!loaded) {
    std::fprintf(stderr, "meterd: configuration error: %s\n", loaded.error().message.c_str());
    return 2;
  }

  if (serve->parsed()) return run_serve(*loaded, serve_demo);
  // Other commands print their results on stdout; what they log (errors first) goes to stderr.
  auto log = spdlog::stderr_color_mt("meterd-cli");
  log->set_pattern("meterd: %v");
  log->set_level(spdlog::level::from_str(loaded->config.log_level));
  spdlog::set_default_logger(log);
  if (demo->parsed()) return run_demo(*loaded);
  if (config_show->parsed()) return run_config_show(*loaded);
  if (migrate->parsed()) return run_migrate(*loaded);
  if (invoice->parsed()) return run_invoice(*loaded, invoice_args);
  if (billing_run->parsed()) return run_billing_run(*loaded, billing_args);
  if (plan_show->parsed() || plan_set->parsed()) {
    if (auto why = check_identifier(plan_tenant)) {
      std::fprintf(stderr, "meterd plan: --tenant %s\n", why->c_str());
      return 2;
    }
    std::string url = plan_url + "/v1/tenants/" + plan_tenant + "/plan";
    Printer line;
    if (!plan_json) {
      line = [](const rapidjson::Document& d) {
        bool fallback = d.HasMember("default") && d["default"].IsBool() && d["default"].GetBool();
        std::printf("tenant %s is on plan %s%s\n", d["tenant_id"].GetString(), d["plan"].GetString(),
                    fallback ? " (the default plan)" : "");
      };
    }
    if (plan_show->parsed()) return call_meterd("GET", url, plan_key, "", "meterd plan", line);
    if (plan_name.find_first_of("\"\\") != std::string::npos) {
      std::fprintf(stderr, "meterd plan: --plan has a character a plan name cannot have\n");
      return 2;
    }
    return call_meterd("PUT", url, plan_key, "{\"plan\":\"" + plan_name + "\"}", "meterd plan", line);
  }
  if (reconcile->parsed()) return run_reconcile(*loaded, reconcile_args);
  if (corrections->parsed()) return run_corrections(*loaded, corrections_args);
  for (auto* sub :
       {credits_balance, credits_ledger, credits_grant, credits_void, credits_activate, credits_rules}) {
    if (!sub->parsed()) continue;
    credits_args.action = sub->get_name();
    return run_credits(credits_args);
  }
  if (retention_apply->parsed()) return run_retention(*loaded, dry_run);
  if (replay->parsed()) {
    std::string server = loaded->config.listen;
    if (server.starts_with("0.0.0.0:")) server = "127.0.0.1" + server.substr(7);
    replay_args.url = replay_url.value_or("http://" + server);
    if (replay_args.file.empty()) replay_args.file = loaded->config.fallback_file_path.string();
    return run_replay(replay_args);
  }
  if (keys_create->parsed()) return run_keys_create(*loaded, create_args);
  if (keys_list->parsed()) return run_keys_list(*loaded);
  if (keys_revoke->parsed()) return run_keys_revoke(*loaded, revoke_id);
  if (quota_show->parsed() || quota_set->parsed()) {
    quota_args.set = quota_set->parsed();
    for (const auto& [flag, value] : quota_values) {
      if (value.empty()) continue;
      std::string key = flag;
      std::replace(key.begin(), key.end(), '-', '_');
      bool text = key == "time_zone" || key == "enforcement";
      if (!text && !Decimal::parse(value)) {
        std::fprintf(stderr, "meterd quota set: --%s must be a number, not %s\n", flag.c_str(),
                     value.c_str());
        return 2;
      }
      if (text && value.find_first_of("\"\\") != std::string::npos) {
        std::fprintf(stderr, "meterd quota set: --%s has a character it cannot have\n", flag.c_str());
        return 2;
      }
      quota_args.fields.emplace_back(key, value);
    }
    if (quota_args.set && quota_args.fields.empty()) {
      std::fprintf(stderr, "meterd quota set: give at least one limit, --time-zone or --enforcement\n");
      return 2;
    }
    return run_quota(quota_args);
  }
  return 2;
}

}  // namespace meter::cli

int main(int argc, char** argv) { return meter::cli::main(argc, argv); }
