// Fuzz target: the typed decoders of transactions' journaled arguments
// (engine/txn/txn_args.h). The input is JSON text (the seeds are args of real
// journal entries); every decoder sees it. Each must accept it or refuse it
// with Corruption, never throw, crash or let through a store path that is not
// absolute; accepted store lists re-encode (StoreRef::ToJson) to args that
// decode to the same stores.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/txn/txn_args.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using maestro::fuzz::Require;

template <typename R>
void RequireCorruptionIfBad(const R& r) {
  if (!r.ok()) Require(r.status().IsCorruption(), "bad journaled args must be Corruption");
}

void CheckStores(const std::vector<maestro::StoreRef>& stores) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : stores) {
    Require(!s.path.empty() && s.path[0] == '/', "an accepted store path is absolute");
    list.push_back(s.ToJson());
  }
  auto again = maestro::DecodeResetArgs({{"stores", list}});
  Require(again.ok(), "re-encoded stores decode");
  Require(again->stores.size() == stores.size(), "re-encoded stores keep their number");
  for (size_t i = 0; i < stores.size(); ++i)
    Require(again->stores[i].path == stores[i].path && again->stores[i].name == stores[i].name,
            "re-encoded stores keep their name and path");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  nlohmann::json args = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (args.is_discarded()) return 0;
  auto reset = maestro::DecodeResetArgs(args);
  RequireCorruptionIfBad(reset);
  if (reset.ok()) CheckStores(reset->stores);
  auto restore = maestro::DecodeRestoreArgs(args);
  RequireCorruptionIfBad(restore);
  if (restore.ok()) CheckStores(restore->stores);
  auto cleanup = maestro::DecodeCleanupArgs(args);
  RequireCorruptionIfBad(cleanup);
  if (cleanup.ok())
    for (const auto& [name, s] : cleanup->stores) Require(!s.path.empty() && s.path[0] == '/', "absolute path");
  auto migrate = maestro::DecodeMigrateArgs(args);
  RequireCorruptionIfBad(migrate);
  if (migrate.ok())
    for (const auto& st : migrate->steps) Require(st.store_path[0] == '/', "a migrated store path is absolute");
  return 0;
}
