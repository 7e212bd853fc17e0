#include "auth/authenticator.h"

#include <gtest/gtest.h>

#include "auth/api_key.h"
#include "auth/sqlite_key_store.h"
#include "server/router.h"
#include "support/temp_dir.h"

namespace meter::auth {
namespace {

const Timestamp kNow = *parse_rfc3339("2026-11-27T10:00:00Z");

class AuthenticatorTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::filesystem::path path_ = dir_ / "keys.db";
  SimulatedClock clock_{kNow};
};

// Verifies keys are random, prefixed, and only their hash is stored.
TEST_F(AuthenticatorTest, KeysAreRandomAndStoredHashed) {
  SqliteKeyStore store(path_);
  auto a = store.create(false, "acme", "", kNow);
  auto b = store.create(false, "acme", "", kNow);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(looks_like_key(*a));
  EXPECT_EQ(a->size(), 43u);  // "mk_" + 160 bits in hex
  auto keys = store.list();
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 2u);
  for (const auto& k : *keys) {
    EXPECT_NE(k.hash, *a);
    EXPECT_EQ(k.hash.size(), 64u);
  }
  EXPECT_TRUE((*keys)[0].hash == sha256_hex(*a) || (*keys)[0].hash == sha256_hex(*b));
}

// Verifies open mode without keys, then bearer checks once a key exists.
TEST_F(AuthenticatorTest, RequiresKeysOnceAnyExist) {
  Authenticator auth(std::make_unique<SqliteKeyStore>(path_), clock_);
  ASSERT_TRUE(auth.load());
  auth.allow_open_mode(true);
  auto anonymous = auth.authenticate("");
  ASSERT_TRUE(anonymous);
  EXPECT_TRUE(anonymous->admin);

  SqliteKeyStore store(path_);
  auto key = store.create(false, "acme", "ci", kNow);
  ASSERT_TRUE(key);
  clock_.advance(std::chrono::seconds(2));  // past the refresh interval
  EXPECT_FALSE(auth.authenticate(""));
  EXPECT_FALSE(auth.authenticate("Bearer mk_0000000000000000000000000000000000000000"));
  EXPECT_FALSE(auth.authenticate("Basic " + *key));
  auto principal = auth.authenticate("Bearer " + *key);
  ASSERT_TRUE(principal);
  EXPECT_FALSE(principal->admin);
  EXPECT_EQ(principal->tenant_id, "acme");
  EXPECT_TRUE(principal->may_act_for("acme"));
  EXPECT_FALSE(principal->may_act_for("other"));
}

// Verifies a revoked key stops working after the refresh interval, not before.
TEST_F(AuthenticatorTest, RevocationTakesEffectAfterRefresh) {
  SqliteKeyStore store(path_);
  auto admin = store.create(true, "", "", kNow);
  auto tenant = store.create(false, "acme", "", kNow);
  Authenticator auth(std::make_unique<SqliteKeyStore>(path_), clock_);
  ASSERT_TRUE(auth.load());
  ASSERT_TRUE(auth.authenticate("Bearer " + *tenant));
  auto keys = store.list();
  auto tenant_record = std::find_if(keys->begin(), keys->end(), [](const KeyRecord& k) { return !k.admin; });
  ASSERT_TRUE(store.revoke(tenant_record->key_id, kNow));
  EXPECT_FALSE(store.revoke(tenant_record->key_id, kNow));  // already revoked
  EXPECT_TRUE(auth.authenticate("Bearer " + *tenant));      // still cached
  clock_.advance(std::chrono::seconds(2));
  EXPECT_FALSE(auth.authenticate("Bearer " + *tenant));
  EXPECT_TRUE(auth.authenticate("Bearer " + *admin));
}

// Verifies the router's access levels: 401 without a key, 403 for admin routes with a tenant key.
TEST_F(AuthenticatorTest, RouterEnforcesAccess) {
  SqliteKeyStore store(path_);
  auto tenant = store.create(false, "acme", "", kNow);
  auto admin = store.create(true, "", "", kNow);
  Authenticator auth(std::make_unique<SqliteKeyStore>(path_), clock_);
  ASSERT_TRUE(auth.load());
  server::Router router(&auth);
  auto ok = [](server::HttpRequest&, const server::PathParams&, server::Responder& r) {
    r(server::HttpResponse{});
  };
  router.add("GET", "/public", server::Access::kPublic, ok);
  router.add("GET", "/keyed", server::Access::kKey, ok);
  router.add("GET", "/admin", server::Access::kAdmin, ok);
  auto call = [&](std::string path, std::string authorization) {
    server::HttpRequest req;
    req.method = "GET";
    req.path = std::move(path);
    req.authorization = std::move(authorization);
    int status = 0;
    router.handle(std::move(req),
                  server::Responder([&](server::Responder::Builder b) { status = b().status; }));
    return status;
  };
  EXPECT_EQ(call("/public", ""), 200);
  EXPECT_EQ(call("/keyed", ""), 401);
  EXPECT_EQ(call("/keyed", "Bearer " + *tenant), 200);
  EXPECT_EQ(call("/admin", "Bearer " + *tenant), 403);
  EXPECT_EQ(call("/admin", "Bearer " + *admin), 200);
}

// Verifies revoking every key locks everyone out instead of reopening the server, also for a
// server that started without keys and later had one created.
TEST_F(AuthenticatorTest, EmptyKeySetAfterKeysIsClosed) {
  Authenticator auth(std::make_unique<SqliteKeyStore>(path_), clock_);
  ASSERT_TRUE(auth.load());
  auth.allow_open_mode(true);
  EXPECT_TRUE(auth.open_mode());
  SqliteKeyStore store(path_);
  auto key = store.create(true, "", "", kNow);
  clock_.advance(std::chrono::seconds(2));
  EXPECT_FALSE(auth.authenticate(""));
  auto keys = store.list();
  ASSERT_TRUE(store.revoke((*keys)[0].key_id, kNow));
  clock_.advance(std::chrono::seconds(2));
  auto refused = auth.authenticate("");  // re-reads the keys: none active
  EXPECT_EQ(auth.active_keys(), 0u);
  EXPECT_FALSE(auth.open_mode());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("meterd keys create --admin"), std::string::npos);

  Authenticator restarted(std::make_unique<SqliteKeyStore>(path_),
                          clock_);  // a new start on loopback: keys.db has had keys
  ASSERT_TRUE(restarted.load());
  restarted.allow_open_mode(true);
  EXPECT_FALSE(restarted.open_mode());
  EXPECT_FALSE(restarted.authenticate(""));
}

// Verifies the Bearer scheme is matched in any case (RFC 9110), with one or more spaces.
TEST_F(AuthenticatorTest, BearerSchemeIsCaseInsensitive) {
  SqliteKeyStore store(path_);
  auto key = store.create(false, "acme", "", kNow);
  Authenticator auth(std::make_unique<SqliteKeyStore>(path_), clock_);
  ASSERT_TRUE(auth.load());
  EXPECT_TRUE(auth.authenticate("bearer " + *key));
  EXPECT_TRUE(auth.authenticate("BEARER  " + *key));
  EXPECT_FALSE(auth.authenticate("Bearer" + *key));
  EXPECT_FALSE(auth.authenticate("Bearerx " + *key));
}

// Verifies open mode refuses foreign Host and Origin headers and untyped write bodies, and
// routes on the raw path so an encoded '/' stays inside a segment.
TEST_F(AuthenticatorTest, OpenModeRefusesCrossSiteRequests) {
  Authenticator auth(std::make_unique<SqliteKeyStore>(path_), clock_);
  ASSERT_TRUE(auth.load());
  auth.allow_open_mode(true);
  server::Router router(&auth);
  std::string seen;
  auto ok = [&](server::HttpRequest&, const server::PathParams& p, server::Responder& r) {
    seen = p.count("tenant") ? p.at("tenant") : "";
    r(server::HttpResponse{});
  };
  router.add("POST", "/write", server::Access::kAdmin, ok);
  router.add("GET", "/v1/tenants/{tenant}/plan", server::Access::kKey, ok);
  auto call = [&](std::string method, std::string path, std::string host, std::string origin,
                  std::string type) {
    server::HttpRequest req;
    req.method = std::move(method);
    req.path = std::move(path);
    req.host = std::move(host);
    req.origin = std::move(origin);
    req.content_type = std::move(type);
    req.body = req.method == "POST" ? "{}" : "";
    int status = 0;
    router.handle(std::move(req),
                  server::Responder([&](server::Responder::Builder b) { status = b().status; }));
    return status;
  };
  EXPECT_EQ(call("POST", "/write", "127.0.0.1:8000", "", "application/json"), 200);
  EXPECT_EQ(call("POST", "/write", "localhost:8000", "http://localhost:8000", "application/json"), 200);
  EXPECT_EQ(call("POST", "/write", "[::1]:8000", "", "application/json"), 200);
  EXPECT_EQ(call("POST", "/write", "attacker.example", "", "application/json"), 403);
  EXPECT_EQ(call("POST", "/write", "127.0.0.1:8000", "http://attacker.example", "application/json"), 403);
  EXPECT_EQ(call("POST", "/write", "127.0.0.1:8000", "null", "application/json"), 403);
  EXPECT_EQ(call("POST", "/write", "127.0.0.1:8000", "", "text/plain"), 415);
  EXPECT_EQ(call("POST", "/write", "127.0.0.1:8000", "", "application/x-www-form-urlencoded"), 415);
  EXPECT_EQ(call("GET", "/v1/tenants/a%2Fb/plan", "127.0.0.1", "", ""), 200);
  EXPECT_EQ(seen, "a/b");
  EXPECT_EQ(call("GET", "/v1/tenants/a/b/plan", "127.0.0.1", "", ""), 404);
  EXPECT_EQ(call("GET", "/v1/tenants/%zz/plan", "127.0.0.1", "", ""), 400);
}

}  // namespace
}  // namespace meter::auth
