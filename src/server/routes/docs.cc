// GET /openapi.json, /docs and /docs/{file}: the API document and swagger-ui (npm's
// swagger-ui-dist, installed into web/node_modules by `make`), read once at start.
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "server/problem.h"
#include "server/routes/api_context.h"

namespace meter::server {
namespace {

struct Asset {
  std::string content_type;
  std::string body;
};

std::optional<std::string> read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Only these files are served: nothing else under web/ is reachable.
const std::pair<const char*, const char*> kSwaggerFiles[] = {
    {"swagger-ui.css", "text/css"},
    {"swagger-ui-bundle.js", "text/javascript"},
    {"swagger-ui-standalone-preset.js", "text/javascript"},
    {"favicon-32x32.png", "image/png"},
};

HttpResponse missing(const std::filesystem::path& dir, std::string_view what) {
  return problem(503, "Service Unavailable",
                 fmt::format("{} is missing from {}; run `make deps` (npm ci in web/) or set METERD_WEB_DIR",
                             what, dir.string()));
}

}  // namespace

void add_docs_routes(Router& router, const ApiContext& api) {
  auto assets = std::make_shared<std::map<std::string, Asset, std::less<>>>();
  const std::filesystem::path& dir = api.web_dir;
  if (auto text = read(dir / "openapi.json")) (*assets)["openapi.json"] = {"application/json", std::move(*text)};
  if (auto text = read(dir / "docs.html")) (*assets)["docs.html"] = {"text/html; charset=utf-8", std::move(*text)};
  for (auto [name, type] : kSwaggerFiles) {
    if (auto text = read(dir / "node_modules/swagger-ui-dist" / name)) (*assets)[name] = {type, std::move(*text)};
  }
  if (assets->size() < 2 + std::size(kSwaggerFiles)) {
    spdlog::warn("API docs incomplete: web assets missing in {}; run `make deps`", dir.string());
  }
  auto serve = [assets, dir](std::string_view name, Responder& r) {
    auto it = assets->find(name);
    if (it == assets->end()) return r(missing(dir, name));
    HttpResponse response;
    response.content_type = it->second.content_type;
    response.body = it->second.body;
    response.headers.emplace_back("Cache-Control", "public, max-age=3600");
    r(std::move(response));
  };
  router.add("GET", "/openapi.json", Access::kPublic,
             [serve](HttpRequest&, const PathParams&, Responder& r) { serve("openapi.json", r); });
  router.add("GET", "/docs", Access::kPublic,
             [serve](HttpRequest&, const PathParams&, Responder& r) { serve("docs.html", r); });
  router.add("GET", "/docs/{file}", Access::kPublic, [serve](HttpRequest&, const PathParams& p, Responder& r) {
    const std::string& file = p.at("file");
    for (auto [name, type] : kSwaggerFiles) {
      if (file == name) return serve(name, r);
    }
    r(problem(404, "Not Found", "no file " + file + " under /docs"));
  });
}

}  // namespace meter::server
