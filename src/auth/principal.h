#pragma once

#include <string>
#include <string_view>

namespace meter::auth {

// Who is calling. An admin may act for any tenant; a tenant key only for its own tenant.
// In open mode (loopback only, no key ever created: auth/authenticator.h) every caller is an
// anonymous admin.
struct Principal {
  bool admin = false;
  std::string tenant_id;  // set for tenant keys
  std::string key_id;     // empty when anonymous

  bool may_act_for(std::string_view tenant) const { return admin || tenant == tenant_id; }
};

}  // namespace meter::auth
