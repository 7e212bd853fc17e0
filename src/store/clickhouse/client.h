#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/sync.h"
#include "net/http_client.h"

namespace meter::store::clickhouse {

struct ClientOptions {
  std::string url = "http://127.0.0.1:8123";  // ClickHouse's HTTP interface
  std::string user = "default";
  std::string password;
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  std::string settings;  // ClickHouse settings for every request, "name=value&name=value"
};

// Builds the HTTP address from the Python service's settings: CLICKHOUSE_HOST may be a bare host name
// (then CLICKHOUSE_PORT is added) or a whole URL such as http://ch.internal:8123.
std::string clickhouse_url(std::string_view host, int port);

// ClickHouse's HTTP interface over keep-alive connections. Thread-safe: concurrent calls each
// take an idle connection (or open one), so one slow query never holds up another. A deadline
// of the calling thread (core/deadline.h) bounds a call.
class Client {
 public:
  explicit Client(ClientOptions options) : options_(std::move(options)) {}
  // The default user without a password, as a fresh ClickHouse has.
  explicit Client(std::string url)
      : Client(ClientOptions{std::move(url), "default", "", std::chrono::seconds(60), ""}) {}

  const std::string& url() const { return options_.url; }

  // Runs one statement and returns ClickHouse's answer (TabSeparated unless the SQL says
  // FORMAT ...). A ClickHouse error comes back with ClickHouse's own message.
  Result<std::string> query(std::string_view sql);

  // Runs `insert_sql` ("INSERT INTO t FORMAT RowBinary") with `rows` as its data. With a
  // query_id, ClickHouse refuses the insert while an earlier one with that id still runs.
  // `settings` are ClickHouse settings for this insert ("insert_distributed_sync=1").
  Status insert(std::string_view insert_sql, std::string_view rows, std::string_view query_id = {},
                std::string_view settings = {});

 private:
  Result<std::string> post(std::string url, std::string_view body);

  ClientOptions options_;
  Mutex mutex_;
  std::vector<std::unique_ptr<net::HttpClient>> idle_ ABSL_GUARDED_BY(mutex_);
};

// `text` as a single-quoted ClickHouse string literal.
std::string quote(std::string_view text);

// Appends `text` to a TabSeparated row with the escapes ClickHouse reads back.
void append_tsv_escaped(std::string& out, std::string_view text);
// A TabSeparated field as ClickHouse wrote it (\t, \n, \\ and the rest) back to its text.
std::string tsv_unescape(std::string_view field);

}  // namespace meter::store::clickhouse
