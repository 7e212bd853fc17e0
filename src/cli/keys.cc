#include <cstdio>

#include "cli/commands.h"
#include "cli/stores.h"
#include "core/clock.h"
#include "core/identifier.h"

namespace meter::cli {
namespace {

// The key store (keys.db, or PostgreSQL with store.url), or nullptr after saying why not.
std::unique_ptr<auth::KeyStore> key_store(const config::Config& c, const char* command) {
  auto store = open_key_store(c);
  if (!store) {
    std::fprintf(stderr, "meterd keys %s: %s\n", command, store.error().message.c_str());
    return nullptr;
  }
  return std::move(*store);
}

}  // namespace

int run_keys_create(const config::LoadedConfig& loaded, const KeysCreateArgs& args) {
  if (args.admin == !args.tenant.empty()) {
    std::fprintf(stderr, "meterd keys create: give either --tenant TENANT or --admin\n");
    return 2;
  }
  if (!args.admin) {
    if (auto why = check_identifier(args.tenant)) {
      std::fprintf(stderr, "meterd keys create: --tenant %s\n", why->c_str());
      return 2;
    }
  }
  auto store = key_store(loaded.config, "create");
  if (!store) return 1;
  auto key = store->create(args.admin, args.tenant, args.name, SystemClock().now());
  if (!key) {
    std::fprintf(stderr, "meterd keys create: %s\n", key.error().message.c_str());
    return 1;
  }
  std::printf("%s\n", key->c_str());
  std::fprintf(stderr,
               "This %s key is shown once; meterd keeps only its SHA-256. Send it as "
               "'Authorization: Bearer <key>'.\n",
               args.admin ? "admin" : ("tenant " + args.tenant).c_str());
  return 0;
}

int run_keys_list(const config::LoadedConfig& loaded) {
  auto store = key_store(loaded.config, "list");
  if (!store) return 1;
  auto keys = store->list();
  if (!keys) {
    std::fprintf(stderr, "meterd keys list: %s\n", keys.error().message.c_str());
    return 1;
  }
  std::printf("%-14s %-8s %-24s %-26s %-26s %s\n", "KEY_ID", "SCOPE", "TENANT", "CREATED", "REVOKED", "NAME");
  for (const auto& k : *keys) {
    std::printf("%-14s %-8s %-24s %-26s %-26s %s\n", k.key_id.c_str(), k.admin ? "admin" : "tenant",
                k.admin ? "-" : k.tenant_id.c_str(), format_rfc3339(k.created_at).c_str(),
                k.revoked_at ? format_rfc3339(*k.revoked_at).c_str() : "-", k.name.c_str());
  }
  return 0;
}

int run_keys_revoke(const config::LoadedConfig& loaded, const std::string& key_id) {
  auto store = key_store(loaded.config, "revoke");
  if (!store) return 1;
  if (auto s = store->revoke(key_id, SystemClock().now()); !s) {
    std::fprintf(stderr, "meterd keys revoke: %s\n", s.error().message.c_str());
    return 1;
  }
  std::printf("revoked %s; running servers stop accepting it within a second\n", key_id.c_str());
  return 0;
}

}  // namespace meter::cli
