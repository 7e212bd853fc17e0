// The web pages, read from web/ once at start: GET / (the dashboard, with Chart.js from npm)
// and /assets/{file}; GET /openapi.json, /docs and /docs/{file} (swagger-ui-dist from npm).
// npm's packages are installed into web/node_modules by `make`.
#include <spdlog/spdlog.h>

#include <fstream>
#include <span>
#include <sstream>

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

// Only these files are served (URL name, path under web/, type): nothing else is reachable.
struct WebFile {
  const char* name;
  const char* path;
  const char* type;
};
constexpr WebFile kDocsFiles[] = {
    {"swagger-ui.css", "node_modules/swagger-ui-dist/swagger-ui.css", "text/css"},
    {"swagger-ui-bundle.js", "node_modules/swagger-ui-dist/swagger-ui-bundle.js", "text/javascript"},
    {"swagger-ui-standalone-preset.js", "node_modules/swagger-ui-dist/swagger-ui-standalone-preset.js",
     "text/javascript"},
    {"favicon-32x32.png", "node_modules/swagger-ui-dist/favicon-32x32.png", "image/png"},
};
constexpr WebFile kAssetFiles[] = {
    {"dashboard.js", "dashboard.js", "text/javascript"},
    {"dashboard.css", "dashboard.css", "text/css"},
    {"chart.umd.min.js", "node_modules/chart.js/dist/chart.umd.min.js", "text/javascript"},
};
constexpr WebFile kPages[] = {
    {"openapi.json", "openapi.json", "application/json"},
    {"docs.html", "docs.html", "text/html; charset=utf-8"},
    {"dashboard.html", "dashboard.html", "text/html; charset=utf-8"},
};

HttpResponse missing(const std::filesystem::path& dir, std::string_view what) {
  return problem(503, "Service Unavailable",
                 fmt::format("{} is missing from {}; run `make deps` (npm ci in web/) or set METERD_WEB_DIR",
                             what, dir.string()));
}

}  // namespace

void add_web_routes(Router& router, const ApiContext& api) {
  auto assets = std::make_shared<std::map<std::string, Asset, std::less<>>>();
  const std::filesystem::path& dir = api.web_dir;
  std::size_t wanted = 0;
  for (std::span<const WebFile> list :
       {std::span<const WebFile>(kDocsFiles), std::span<const WebFile>(kAssetFiles),
        std::span<const WebFile>(kPages)}) {
    for (const WebFile& f : list) {
      ++wanted;
      if (auto text = read(dir / f.path)) (*assets)[f.name] = {f.type, std::move(*text)};
    }
  }
  if (assets->size() < wanted) {
    spdlog::warn("web pages incomplete: files missing in {}; run `make deps`", dir.string());
  }
  auto serve = [assets, dir](std::string_view name, Responder& r) {
    auto it = assets->find(name);
    if (it == assets->end()) return r(missing(dir, name));
    HttpResponse response;
    response.content_type = it->second.content_type;
    response.body = it->second.body;
    response.headers.emplace_back("Cache-Control", "no-cache");
    r(std::move(response));
  };
  auto files = [serve](std::span<const WebFile> list, std::string prefix) {
    return [serve, list, prefix](HttpRequest&, const PathParams& p, Responder& r) {
      const std::string& file = p.at("file");
      for (const WebFile& f : list) {
        if (file == f.name) return serve(f.name, r);
      }
      r(problem(404, "Not Found", "no file " + file + " under " + prefix));
    };
  };
  router.add("GET", "/", Access::kPublic,
             [serve](HttpRequest&, const PathParams&, Responder& r) { serve("dashboard.html", r); });
  router.add("GET", "/assets/{file}", Access::kPublic, files(kAssetFiles, "/assets"));
  router.add("GET", "/openapi.json", Access::kPublic,
             [serve](HttpRequest&, const PathParams&, Responder& r) { serve("openapi.json", r); });
  router.add("GET", "/docs", Access::kPublic,
             [serve](HttpRequest&, const PathParams&, Responder& r) { serve("docs.html", r); });
  router.add("GET", "/docs/{file}", Access::kPublic, files(kDocsFiles, "/docs"));
}

}  // namespace meter::server
