#include "util/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>

namespace maestro {

namespace {

struct Registry {
  std::mutex mu;
  std::set<std::string> names;
  std::map<std::string, int> hits;
  bool spec_loaded = false;
  std::string target;
  int nth = 1;
};

Registry& Reg() {
  static Registry* r = new Registry();
  return *r;
}

void LoadSpec(Registry& r, const std::string& spec) {
  r.target.clear();
  r.nth = 1;
  r.hits.clear();
  auto colon = spec.rfind(':');
  if (colon != std::string::npos) {
    r.target = spec.substr(0, colon);
    r.nth = std::max(1, std::atoi(spec.c_str() + colon + 1));
  } else {
    r.target = spec;
  }
  r.spec_loaded = true;
}

}  // namespace

bool RegisterCrashPoint(const char* name) {
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  r.names.insert(name);
  return true;
}

std::vector<std::string> CrashPointNames() {
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  return std::vector<std::string>(r.names.begin(), r.names.end());
}

void SetCrashPointForTesting(const std::string& spec) {
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  LoadSpec(r, spec);
}

bool IsValidCrashPointSpec(const std::string& spec) {
  std::string name = spec;
  auto colon = spec.rfind(':');
  if (colon != std::string::npos) {
    name = spec.substr(0, colon);
    std::string nth = spec.substr(colon + 1);
    if (nth.empty() || nth.size() > 9 || nth.find_first_not_of("0123456789") != std::string::npos ||
        std::atoi(nth.c_str()) < 1)
      return false;
  }
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  return r.names.count(name) > 0;
}

void MaybeCrash(const char* name) {
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  if (!r.spec_loaded) {
    const char* env = std::getenv("MAESTRO_DB_CRASH_AT");
    LoadSpec(r, env ? env : "");
  }
  if (r.target.empty() || r.target != name) return;
  if (++r.hits[r.target] == r.nth) {
    ::kill(::getpid(), SIGKILL);
    ::pause();
  }
}

}  // namespace maestro
