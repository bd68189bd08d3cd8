// util/crash_point.h — named crash points (RocksDB's kill points).
//
// MAESTRO_DB_CRASH_AT=<name>[:<nth>] makes the process SIGKILL itself the nth
// time (default 1st) it passes CRASH_POINT("<name>"). Every crash point sits
// between two durable steps. Names are registered statically so that
// `MAESTRO_DB_CRASH_AT=list maestro-db ...` and `maestro-db debug crash-points`
// can list them all.
//
// Naming: "<area>.<what_just_became_durable>", e.g. "snap.after_blobs",
// "txn.after_intent", "reset.after_commit".
#pragma once

#include <string>
#include <vector>

namespace maestro {

// Registers a name at static-init time; returns true.
bool RegisterCrashPoint(const char* name);
// All registered names, sorted.
std::vector<std::string> CrashPointNames();
// Kills the process with SIGKILL if MAESTRO_DB_CRASH_AT selects this pass.
void MaybeCrash(const char* name);
// For tests in-process: override the env var ("" disables).
void SetCrashPointForTesting(const std::string& spec);
// True when spec ("<name>[:<nth>]", the form of MAESTRO_DB_CRASH_AT) names a
// registered crash point and nth, if given, is a whole number >= 1.
bool IsValidCrashPointSpec(const std::string& spec);

}  // namespace maestro

// CRASH_POINT("snap.after_blobs"); — declare and hit in one line.
#define MAESTRO_CRASH_POINT(name)                                              \
  do {                                                                         \
    static const bool _registered_cp = ::maestro::RegisterCrashPoint(name);   \
    (void)_registered_cp;                                                      \
    ::maestro::MaybeCrash(name);                                               \
  } while (0)

// Crash points inside functions are registered only once the function runs;
// to make `list` complete, each layer also lists its names at namespace scope:
//   MAESTRO_DECLARE_CRASH_POINT(snap_after_blobs, "snap.after_blobs");
#define MAESTRO_DECLARE_CRASH_POINT(ident, name) \
  static const bool ident##_crash_point_registered = ::maestro::RegisterCrashPoint(name)
