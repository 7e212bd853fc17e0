#include "server/router.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "server/read_pool.h"

namespace meter::server {
namespace {

HttpResponse call(Router& router, std::string method, std::string path) {
  HttpResponse out;
  HttpRequest req;
  req.method = std::move(method);
  req.path = std::move(path);
  router.handle(std::move(req), Responder([&](Responder::Builder build) { out = build(); }));
  return out;
}

Router make_router(std::string& seen) {
  Router router;
  router.add("GET", "/v1/tenants/{tenant}/usage", Access::kKey,
             [&seen](HttpRequest&, const PathParams& p, Responder& r) {
               seen = p.at("tenant");
               r(HttpResponse{200, "text/plain", "usage", {}});
             });
  router.add("POST", "/track", Access::kKey,
             [](HttpRequest&, const PathParams&, Responder& r) { r(HttpResponse{}); });
  return router;
}

// Verifies {name} segments match one segment and are handed to the route.
TEST(Router, MatchesParameters) {
  std::string seen;
  Router router = make_router(seen);
  EXPECT_EQ(call(router, "GET", "/v1/tenants/acme/usage").body, "usage");
  EXPECT_EQ(seen, "acme");
  EXPECT_EQ(call(router, "GET", "/v1/tenants/acme/usage/extra").status, 404);
  EXPECT_EQ(call(router, "GET", "/v1/tenants//usage").status, 404);
}

// Verifies unknown paths are 404 problems and known paths with other methods 405 with Allow.
TEST(Router, AnswersNotFoundAndMethodNotAllowed) {
  std::string seen;
  Router router = make_router(seen);
  HttpResponse missing = call(router, "GET", "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.content_type, "application/problem+json");
  HttpResponse wrong = call(router, "GET", "/track");
  EXPECT_EQ(wrong.status, 405);
  ASSERT_EQ(wrong.headers.size(), 1u);
  EXPECT_EQ(wrong.headers[0], (std::pair<std::string, std::string>{"Allow", "POST"}));
}

// Verifies a route with a fast path answers on the calling thread (the event loop) when the
// fast path can, and otherwise runs its function in the read pool.
TEST(Router, FastPathAnswersOnTheLoopElseInThePool) {
  ReadPool pool(ReadPoolOptions{});
  Router router;
  router.set_read_pool(&pool);
  std::atomic<bool> cached{true};
  router.add(
      "GET", "/quota", Access::kKey,
      [&cached](HttpRequest&, const PathParams&, Responder& r) {
        if (!cached) return false;
        r(HttpResponse{200, "text/plain", "cached", {}});
        return true;
      },
      [](HttpRequest&, const PathParams&, Responder& r) {
        r(HttpResponse{200, "text/plain", "read", {}});
      });
  auto ask = [&router] {
    std::promise<std::pair<std::string, std::thread::id>> answer;
    HttpRequest req;
    req.method = "GET";
    req.path = "/quota";
    router.handle(std::move(req), Responder([&answer](Responder::Builder build) {
                    answer.set_value({build().body, std::this_thread::get_id()});
                  }));
    auto future = answer.get_future();
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return future.get();
  };
  auto fast = ask();
  EXPECT_EQ(fast.first, "cached");
  EXPECT_EQ(fast.second, std::this_thread::get_id());
  cached = false;
  auto slow = ask();
  EXPECT_EQ(slow.first, "read");
  EXPECT_NE(slow.second, std::this_thread::get_id());
  pool.stop();
}

}  // namespace
}  // namespace meter::server
