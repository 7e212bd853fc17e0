#pragma once

// CloudEvents 1.0 (https://cloudevents.io) as meterd events: the JSON format (one event,
// application/cloudevents+json), the JSON batch format (application/cloudevents-batch+json)
// and the HTTP binary mode (ce-* headers, the body is the event's data). The mapping follows
// OpenMeter's: id -> id, subject -> tenant, type -> event type, time -> timestamp, a data
// field named by `value_property` -> quantity (1 per event without one), every other data
// field -> metadata. docs/cloudevents.md has the details.

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "ingest/event_json.h"
#include "ingest/limits.h"

namespace meter::ingest {

// How CloudEvents of one type become meterd events (meterd.toml, [cloudevents]).
struct CloudEventMapping {
  std::string type;             // the CloudEvent type it applies to; empty: every other type
  std::string event_type;       // meterd's event type; empty: the CloudEvent's type
  std::string value_property;   // a JSON path into data ("$.tokens"); empty: 1 per event
  std::string tenant_property;  // a JSON path into data; empty: the subject attribute
};

struct CloudEventMappings {
  CloudEventMapping defaults;
  std::vector<CloudEventMapping> types;

  const CloudEventMapping& for_type(std::string_view type) const;
};

// The CloudEvents attribute a meterd event field comes from ("timestamp" -> "time"), for the
// errors that name it; other names (a quota's limit) are returned unchanged.
std::string cloud_event_attribute(std::string_view meterd_field);

// Null when `path` is a JSON path meterd can follow: `$.` then dot-separated member names.
std::optional<std::string> json_path_error(std::string_view path);

// Parses application/cloudevents+json (batch = false: one object) or
// application/cloudevents-batch+json (batch = true: an array). As parse_events: an event with
// a missing or wrong attribute comes back with its error; malformed JSON fails the whole body.
Result<std::vector<ParsedEvent>> parse_cloud_events(std::string_view body, bool batch,
                                                    const CloudEventMappings& mappings,
                                                    const IngestLimits& limits, Timestamp now,
                                                    std::string_view default_tenant = {});

// The HTTP binary mode: the attributes from ce-* headers (names without the prefix, values
// percent-decoded), the body is the data, JSON when content_type says so.
struct CloudEventHeaders {
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string content_type;
};
Result<ParsedEvent> parse_binary_cloud_event(const CloudEventHeaders& headers, std::string_view body,
                                             const CloudEventMappings& mappings, const IngestLimits& limits,
                                             Timestamp now, std::string_view default_tenant = {});

}  // namespace meter::ingest
