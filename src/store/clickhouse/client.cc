#include "store/clickhouse/client.h"

#include <fmt/format.h>

#include <cctype>

namespace meter::store::clickhouse {
namespace {

std::string url_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// ClickHouse answers errors as "Code: N, e.displayText() = DB::Exception: ...": keep one line.
std::string first_line(std::string_view text) {
  std::size_t end = text.find('\n');
  return std::string(text.substr(0, end == std::string_view::npos ? text.size() : end));
}

}  // namespace

std::string clickhouse_url(std::string_view host, int port) {
  if (host.find("://") != std::string_view::npos) {
    std::string url(host);
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  }
  return fmt::format("http://{}:{}", host, port);
}

Result<std::string> Client::query(std::string_view sql) {
  return post(options_.url + "/" + (options_.settings.empty() ? "" : "?" + options_.settings), sql);
}

Status Client::insert(std::string_view insert_sql, std::string_view rows, std::string_view query_id,
                      std::string_view settings) {
  std::string url = options_.url + "/?query=" + url_encode(insert_sql);
  if (!query_id.empty()) url += "&query_id=" + url_encode(query_id);
  if (!settings.empty()) url += "&" + std::string(settings);
  if (!options_.settings.empty()) url += "&" + options_.settings;
  auto answer = post(std::move(url), rows);
  if (!answer) return fail(answer.error());
  return {};
}

Result<std::string> Client::post(std::string url, std::string_view body) {
  net::HttpRequest request;
  request.method = "POST";
  request.url = std::move(url);
  request.body = body;
  request.user = options_.user;
  request.password = options_.password;
  request.timeout = options_.timeout;
  std::unique_ptr<net::HttpClient> http;
  {
    MutexLock lock(mutex_);
    if (!idle_.empty()) {
      http = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!http) http = std::make_unique<net::HttpClient>();
  auto response = http->send(request);
  if (response) {
    MutexLock lock(mutex_);
    idle_.push_back(std::move(http));  // a failed connection is dropped, not reused
  }
  if (!response) {
    std::string hint = options_.url.ends_with(":9000")
                           ? " (9000 is ClickHouse's native port; meterd speaks HTTP: use port 8123)"
                           : " (is ClickHouse running? check clickhouse.host / CLICKHOUSE_HOST)";
    return fail(Error::unavailable(
        fmt::format("cannot reach ClickHouse at {}: {}{}", options_.url, response.error().message, hint)));
  }
  if (response->status != 200) {
    std::string hint = response->body.starts_with("Port 9000 is for clickhouse-client")
                           ? " (use ClickHouse's HTTP port, 8123)"
                           : "";
    return fail(Error::unavailable(fmt::format("ClickHouse answered HTTP {}: {}{}", response->status,
                                               first_line(response->body), hint)));
  }
  return std::move(response->body);
}

std::string quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

void append_tsv_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\0':
        out += "\\0";
        break;
      default:
        out += c;
    }
  }
}

std::string tsv_unescape(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] != '\\' || i + 1 == field.size()) {
      out += field[i];
      continue;
    }
    switch (char c = field[++i]) {
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case '0':
        out += '\0';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'a':
        out += '\a';
        break;
      case 'v':
        out += '\v';
        break;
      default:
        out += c;  // \\, \' and any other escaped character stand for themselves
    }
  }
  return out;
}

}  // namespace meter::store::clickhouse
