#include <cstdio>

#include "cli/commands.h"
#include "net/http_client.h"

namespace meter::cli {

int call_meterd(const std::string& method, const std::string& url, const std::string& api_key,
                const std::string& body, const char* command) {
  net::HttpRequest request = net::meterd_request(method, url, "", api_key, body);
  net::HttpClient client;
  auto response = client.send(request);
  if (!response) {
    std::fprintf(stderr, "%s: cannot reach %s: %s (is meterd running? see --url)\n", command, url.c_str(),
                 response.error().message.c_str());
    return 1;
  }
  std::printf("%s\n", response->body.c_str());
  return response->status >= 200 && response->status < 300 ? 0 : 1;
}

}  // namespace meter::cli
