#pragma once

#include <toml++/toml.h>

#include <string>

#include "config/config.h"

namespace meter::config {

// Reads meterd.toml's [cloudevents] table into config.cloud_events (docs/cloudevents.md):
//
//   [cloudevents]
//   tenant_property = "$.customer"     # every type: the tenant from data (default: subject)
//   [cloudevents.types."com.example.llm.prompt"]
//   event_type = "input_tokens"        # meterd's event type (default: the CloudEvent's type)
//   value_property = "$.tokens"        # the quantity (default: 1 per event)
Status read_cloud_events(Config& config, const toml::table& table, const std::string& file);

}  // namespace meter::config
