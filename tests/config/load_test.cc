#include "config/load.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace meter::config {
namespace {

void write(const std::filesystem::path& path, std::string_view text) { std::ofstream(path) << text; }

class ConfigTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::filesystem::path toml_ = dir_ / "meterd.toml";
  std::filesystem::path env_ = dir_ / ".env";
};

// Verifies precedence: toml < .env < environment < flags, and that each source is recorded.
TEST_F(ConfigTest, LaterSourcesWin) {
  write(toml_,
        "[buffer]\nsize = 10\nflush_interval_seconds = 0.5\n[server]\nlisten = \"127.0.0.1:9000\"\n"
        "[retention]\nmonths = 12\n");
  write(env_, "# the Python service's .env\nBUFFER_SIZE=20\nRETENTION_MONTHS=24\nUNRELATED=1\n");
  std::string e1 = "BUFFER_SIZE=30", e2 = "PATH=/bin";
  char* environment[] = {e1.data(), e2.data(), nullptr};
  ConfigSources sources{toml_, env_, environment, {{"buffer.size", "40"}}};
  auto loaded = load_config(sources);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->config.buffer_size, 40u);
  EXPECT_EQ(loaded->config.retention_months, 24);
  EXPECT_EQ(loaded->config.listen, "127.0.0.1:9000");
  EXPECT_EQ(loaded->config.flush_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(loaded->source_of.at("buffer.size"), "flag");
  EXPECT_EQ(loaded->source_of.at("retention.months"), ".env");
  EXPECT_EQ(loaded->source_of.at("server.listen"), "meterd.toml");
  EXPECT_EQ(loaded->source_of.at("clickhouse.port"), "default");
}

// Verifies every variable of the Python service's .env.example is read with its meaning.
TEST_F(ConfigTest, ReadsSeedEnvExample) {
  write(env_, R"(# ClickHouse Configuration
CLICKHOUSE_HOST=localhost
CLICKHOUSE_PORT=9000
CLICKHOUSE_USER=default
CLICKHOUSE_PASSWORD=
CLICKHOUSE_DATABASE=metering
BUFFER_SIZE=100
FLUSH_INTERVAL_SECONDS=1.0
FALLBACK_FILE_PATH=./usage_events_fallback.jsonl
PRICE_PER_QUERY=0.01
PRICE_PER_1K_INPUT_TOKENS=0.003
PRICE_PER_1K_OUTPUT_TOKENS=0.015
PRICE_PER_GB_STORAGE=0.10
DEFAULT_QUOTA_QUERIES=1000
DEFAULT_QUOTA_TOKENS=100000
RETENTION_MONTHS=36
GRAFANA_URL=http://localhost:3000
GRAFANA_API_KEY=
OFFLINE=false
)");
  auto loaded = load_config({std::nullopt, env_, nullptr, {}});
  ASSERT_TRUE(loaded) << loaded.error().message;
  const Config& c = loaded->config;
  EXPECT_EQ(c.clickhouse_host, "localhost");
  EXPECT_EQ(c.clickhouse_port, 9000);
  EXPECT_EQ(c.flush_interval, std::chrono::seconds(1));
  EXPECT_EQ(c.price_per_1k_output_tokens.to_string(), "0.015");
  EXPECT_EQ(c.price_per_gb_storage.to_string(), "0.1");
  EXPECT_EQ(c.default_quota_tokens, 100000);
  EXPECT_FALSE(c.offline);
}

// Verifies prices written as TOML floats keep their exact decimal text.
TEST_F(ConfigTest, TomlFloatsStayExact) {
  write(toml_, "[pricing]\nprice_per_query = 0.1\nprice_per_1k_input_tokens = 0.000_3\n");
  auto loaded = load_config({toml_, std::nullopt, nullptr, {}});
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->config.price_per_query.to_string(), "0.1");
  EXPECT_EQ(loaded->config.price_per_1k_input_tokens.to_string(), "0.0003");
}

// Verifies bad values and unknown keys are errors naming the key and the source.
TEST_F(ConfigTest, RejectsBadInput) {
  write(toml_, "[buffer]\nsize = -1\n");
  auto bad_value = load_config({toml_, std::nullopt, nullptr, {}});
  ASSERT_FALSE(bad_value);
  EXPECT_EQ(bad_value.error().message, "buffer.size (meterd.toml): '-1' must be between 1 and 10000000");

  write(toml_, "[buffer]\nsise = 1\n");
  auto unknown = load_config({toml_, std::nullopt, nullptr, {}});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown setting 'buffer.sise'"), std::string::npos);

  write(toml_, "[buffer\n");
  EXPECT_FALSE(load_config({toml_, std::nullopt, nullptr, {}}));

  std::string e = "PRICE_PER_QUERY=abc";
  char* environment[] = {e.data(), nullptr};
  auto bad_env = load_config({std::nullopt, std::nullopt, environment, {}});
  ASSERT_FALSE(bad_env);
  EXPECT_EQ(bad_env.error().message,
            "pricing.price_per_query (env PRICE_PER_QUERY): 'abc' expected a decimal number such as 0.01");

  EXPECT_FALSE(load_config({std::nullopt, std::nullopt, nullptr, {{"no.such", "1"}}}));
  EXPECT_FALSE(load_config({dir_ / "missing.toml", std::nullopt, nullptr, {}}));
}

// Verifies [cloudevents]: defaults for every type, per-type mappings over them, and errors
// naming the key.
TEST_F(ConfigTest, ReadsCloudEventMappings) {
  write(toml_,
        "[cloudevents]\ntenant_property = \"$.org\"\n"
        "[cloudevents.types.\"com.example.llm\"]\nevent_type = \"input_tokens\"\nvalue_property = "
        "\"$.usage.input\"\n");
  auto loaded = load_config({toml_, std::nullopt, nullptr, {}});
  ASSERT_TRUE(loaded) << loaded.error().message;
  const auto& ce = loaded->config.cloud_events;
  EXPECT_EQ(ce.defaults.tenant_property, "$.org");
  EXPECT_EQ(&ce.for_type("other"), &ce.defaults);
  const auto& llm = ce.for_type("com.example.llm");
  EXPECT_EQ(llm.event_type, "input_tokens");
  EXPECT_EQ(llm.value_property, "$.usage.input");
  EXPECT_EQ(llm.tenant_property, "$.org");

  write(toml_, "[cloudevents.types.t]\nvalue_property = \"tokens\"\n");
  auto bad_path = load_config({toml_, std::nullopt, nullptr, {}});
  ASSERT_FALSE(bad_path);
  EXPECT_NE(
      bad_path.error().message.find("cloudevents.types.\"t\".value_property: 'tokens' is not a JSON path"),
      std::string::npos)
      << bad_path.error().message;
  write(toml_, "[cloudevents]\nevent_type = \"x\"\n");
  auto unknown = load_config({toml_, std::nullopt, nullptr, {}});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("cloudevents.event_type: unknown key"), std::string::npos);
}

// Verifies .env quoting, export and comments.
TEST_F(ConfigTest, ParsesDotenvSyntax) {
  auto pairs = parse_dotenv("export A=1\nB=\"two words\" \nC='x#y'\nD=3 # comment\n\n# only comment\n");
  ASSERT_TRUE(pairs);
  ASSERT_EQ(pairs->size(), 4u);
  EXPECT_EQ((*pairs)[0], (std::pair<std::string, std::string>{"A", "1"}));
  EXPECT_EQ((*pairs)[1].second, "two words");
  EXPECT_EQ((*pairs)[2].second, "x#y");
  EXPECT_EQ((*pairs)[3].second, "3");
  EXPECT_FALSE(parse_dotenv("novalue\n"));
}

// Verifies the rendered config masks secrets and names sources.
TEST_F(ConfigTest, RendersWithSources) {
  auto loaded = load_config({std::nullopt, std::nullopt, nullptr, {{"CLICKHOUSE_PASSWORD", "hunter2"}}});
  ASSERT_TRUE(loaded);
  std::string text = render_config(*loaded);
  EXPECT_EQ(text.find("hunter2"), std::string::npos);
  EXPECT_NE(text.find("password = \"********\"  # flag; env CLICKHOUSE_PASSWORD"), std::string::npos) << text;
  EXPECT_NE(text.find("listen = \"127.0.0.1:8000\"  # default"), std::string::npos);
}

// Verifies `config show` output is itself a valid meterd.toml that reproduces the config.
TEST_F(ConfigTest, RenderedConfigLoadsBack) {
  auto loaded = load_config({std::nullopt,
                             std::nullopt,
                             nullptr,
                             {{"buffer.size", "7"}, {"PRICE_PER_QUERY", "0.0125"}, {"offline", "true"}}});
  ASSERT_TRUE(loaded);
  write(toml_, render_config(*loaded));
  auto again = load_config({toml_, std::nullopt, nullptr, {}});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->config.buffer_size, 7u);
  EXPECT_EQ(again->config.price_per_query.to_string(), "0.0125");
  EXPECT_TRUE(again->config.offline);
}

}  // namespace
}  // namespace meter::config
