#include <rapidjson/document.h>

#include <cstdio>

#include "cli/commands.h"
#include "net/http_client.h"

namespace meter::cli {
namespace {

// "404 Not Found: no tenant x" from a problem body; the raw body when it is not one.
std::string problem_text(long status, const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::to_string(status) + ": " + body;
  auto text = [&](const char* key) {
    return doc.HasMember(key) && doc[key].IsString() ? std::string(doc[key].GetString()) : std::string();
  };
  std::string out = std::to_string(status) + " " + text("title");
  if (!text("detail").empty()) out += ": " + text("detail");
  if (!text("field").empty()) out += " (" + text("field") + ")";
  return out;
}

}  // namespace

std::string json_text(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key)) return "-";
  const auto& field = v[key];
  if (field.IsString()) return field.GetString();
  if (field.IsBool()) return field.GetBool() ? "true" : "false";
  if (field.IsInt64()) return std::to_string(field.GetInt64());
  return "-";  // null: none (no limit, no expiry)
}

int call_meterd(const std::string& method, const std::string& url, const std::string& api_key,
                const std::string& body, const char* command, const Printer& print,
                const std::vector<std::string>& headers) {
  net::HttpRequest request = net::meterd_request(method, url, "", api_key, body);
  request.headers.insert(request.headers.end(), headers.begin(), headers.end());
  net::HttpClient client;
  auto response = client.send(request);
  if (!response) {
    std::fprintf(stderr, "%s: cannot reach %s: %s (is meterd running? see --url)\n", command, url.c_str(),
                 response.error().message.c_str());
    return 1;
  }
  if (response->status < 200 || response->status >= 300) {
    std::fprintf(stderr, "%s: %s\n", command, problem_text(response->status, response->body).c_str());
    if (response->status == 401) std::fprintf(stderr, "%s: pass --api-key or set METERD_API_KEY\n", command);
    return 1;
  }
  if (!print) {
    std::printf("%s\n", response->body.c_str());
    return 0;
  }
  rapidjson::Document doc;
  doc.Parse(response->body.data(), response->body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    std::printf("%s\n", response->body.c_str());
    return 0;
  }
  print(doc);
  return 0;
}

}  // namespace meter::cli
