#include "engine/schedule/schedule.h"

#include <cmath>
#include <ctime>

#include "util/json_text.h"
#include "util/time_util.h"

namespace maestro {

namespace {

constexpr int64_t kMicros = 1000000;

Status GetSeconds(const Config& c, const std::string& key, int64_t* out) {
  if (!c.Has(key)) return Status::OK();
  auto d = ParseDurationSeconds(c.Get(key));
  if (!d.ok() || *d < 0)
    return Status::InvalidArgument(c.origin() + ": " + key + " = '" + c.Get(key) +
                                   "' is not a duration (examples: 90s, 45m, 2h, 1d)");
  *out = *d;
  return Status::OK();
}

Status GetCount(const Config& c, const std::string& key, int* out) {
  auto v = c.GetInt(key, *out);
  if (!v.ok()) return v.status();
  if (*v < 0 || *v > 1000000)
    return Status::InvalidArgument(c.origin() + ": " + key + " = '" + c.Get(key) + "' must be 0 or more");
  *out = static_cast<int>(*v);
  return Status::OK();
}

Status GetFlag(const Config& c, const std::string& key, bool* out) {
  auto v = c.GetBool(key, *out);
  if (!v.ok()) return v.status();
  *out = *v;
  return Status::OK();
}

nlohmann::json OptTime(const std::optional<int64_t>& t) {
  return t ? nlohmann::json(*t) : nlohmann::json(nullptr);
}

// Field readers that do not throw on a missing key or a wrong type (the state
// file is ours, but a hand edit must not stop the service). Not json::value():
// its inlined get() trips -Wnull-dereference in GCC.
std::optional<int64_t> ReadOptTime(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

std::string ReadString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  return it->get_ref<const std::string&>();
}

bool IsStale(const nlohmann::json& offsite) {
  auto it = offsite.find("stale");
  return it != offsite.end() && it->is_boolean() && it->get<bool>();
}

nlohmann::json JobStateJson(const JobState& s) {
  nlohmann::json j = {{"last_success", OptTime(s.last_success)},
                      {"last_attempt", OptTime(s.last_attempt)},
                      {"last_outcome", s.last_outcome},
                      {"last_error", s.last_error},
                      {"consecutive_failures", s.consecutive_failures}};
  if (s.last_success) j["last_success_iso"] = FormatIso8601(*s.last_success);
  return j;
}

JobState JobStateFromJson(const nlohmann::json& j) {
  JobState s;
  if (!j.is_object()) return s;
  s.last_success = ReadOptTime(j, "last_success");
  s.last_attempt = ReadOptTime(j, "last_attempt");
  s.last_outcome = ReadString(j, "last_outcome");
  s.last_error = ReadString(j, "last_error");
  s.consecutive_failures = ReadOptTime(j, "consecutive_failures").value_or(0);
  return s;
}

// mktime on a broken-down local time with DST left to the library.
int64_t LocalSlot(struct tm lt, int day_offset, int hour, int minute) {
  lt.tm_mday += day_offset;
  lt.tm_hour = hour;
  lt.tm_min = minute;
  lt.tm_sec = 0;
  lt.tm_isdst = -1;
  return static_cast<int64_t>(mktime(&lt)) * kMicros;
}

// The copy_* and [notify] keys. A copy_keep_* left out takes the keep_* of the
// local prune, so one retention is written once; every copy_keep_* 0 with
// copy_prune on is refused like the local keep_*.
Status ReadCopyConfig(const Config& c, ScheduleConfig* s) {
  s->copy_to = c.Get("schedule.copy_to");
  MAESTRO_RETURN_IF_ERROR(GetFlag(c, "schedule.copy_prune", &s->copy_prune));
  const std::pair<const char*, std::pair<int*, int>> keeps[] = {
      {"schedule.copy_keep_last", {&s->copy_keep_last, s->keep_last}},
      {"schedule.copy_keep_hourly", {&s->copy_keep_hourly, s->keep_hourly}},
      {"schedule.copy_keep_daily", {&s->copy_keep_daily, s->keep_daily}},
      {"schedule.copy_keep_weekly", {&s->copy_keep_weekly, s->keep_weekly}},
      {"schedule.copy_keep_monthly", {&s->copy_keep_monthly, s->keep_monthly}},
      {"schedule.copy_keep_yearly", {&s->copy_keep_yearly, s->keep_yearly}}};
  bool any = false;
  for (const auto& k : keeps) any = any || c.Has(k.first);
  int total = 0;
  for (const auto& [key, target] : keeps) {
    *target.first = any ? 0 : target.second;  // all from keep_*, or only the copy_keep_* given
    MAESTRO_RETURN_IF_ERROR(GetCount(c, key, target.first));
    total += *target.first;
  }
  if (s->copy_enabled() && s->copy_prune && total == 0)
    return Status::InvalidArgument(c.origin() +
                                   ": every schedule.copy_keep_* is 0, so the target's prune would delete every "
                                   "scheduled snapshot there; set one or schedule.copy_prune = off");
  MAESTRO_RETURN_IF_ERROR(GetSeconds(c, "schedule.copy_max_age", &s->copy_max_age_s));
  MAESTRO_RETURN_IF_ERROR(GetSeconds(c, "schedule.copy_retry_min", &s->copy_retry_min_s));
  MAESTRO_RETURN_IF_ERROR(GetSeconds(c, "schedule.copy_retry_max", &s->copy_retry_max_s));
  if (s->copy_retry_min_s < 1 || s->copy_retry_max_s < s->copy_retry_min_s)
    return Status::InvalidArgument(c.origin() + ": schedule.copy_retry_min must be at least 1s and at most "
                                                "schedule.copy_retry_max");
  s->notify_command = c.Get("notify.command");
  MAESTRO_RETURN_IF_ERROR(GetSeconds(c, "notify.timeout", &s->notify_timeout_s));
  if (s->notify_timeout_s < 1 || s->notify_timeout_s > 3600)
    return Status::InvalidArgument(c.origin() + ": notify.timeout must be from 1s to 1h");
  return Status::OK();
}

}  // namespace

// ---- config -------------------------------------------------------------

const std::vector<std::string>& ScheduleConfig::Keys() {
  static const std::vector<std::string> keys = {
      "schedule.snapshot",     "schedule.snapshot_time",    "schedule.prune",
      "schedule.keep_last",    "schedule.keep_hourly",      "schedule.keep_daily",
      "schedule.keep_weekly",  "schedule.keep_monthly",     "schedule.keep_yearly",
      "schedule.monitor",      "schedule.monitor_interval", "schedule.monitor_repair",
      "schedule.monitor_repair_while_live", "schedule.drill", "schedule.drill_interval",
      "schedule.drill_scratch",
      "schedule.failed_after", "schedule.stuck_after",      "schedule.lock_wait",
      "schedule.tick",         "schedule.log",
      "schedule.copy_to",      "schedule.copy_prune",       "schedule.copy_keep_last",
      "schedule.copy_keep_hourly", "schedule.copy_keep_daily", "schedule.copy_keep_weekly",
      "schedule.copy_keep_monthly", "schedule.copy_keep_yearly", "schedule.copy_max_age",
      "schedule.copy_retry_min", "schedule.copy_retry_max", "notify.command", "notify.timeout"};
  return keys;
}

Status ParseTimeOfDay(const std::string& text, int* hour, int* minute) {
  int h = -1, m = -1;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 || m > 59)
    return Status::InvalidArgument("'" + text + "' is not a time of day HH:MM (00:00 to 23:59)");
  *hour = h;
  *minute = m;
  return Status::OK();
}

Result<ScheduleConfig> ScheduleConfig::FromConfig(const Config& c) {
  ScheduleConfig s;
  MAESTRO_RETURN_IF_ERROR(GetFlag(c, "schedule.snapshot", &s.snapshot_enabled));
  if (c.Has("schedule.snapshot_time")) {
    Status st = ParseTimeOfDay(c.Get("schedule.snapshot_time"), &s.snapshot_hour, &s.snapshot_minute);
    if (!st.ok()) return st.Annotate(c.origin() + ": schedule.snapshot_time");
  }
  MAESTRO_RETURN_IF_ERROR(GetFlag(c, "schedule.prune", &s.prune_enabled));
  MAESTRO_RETURN_IF_ERROR(GetCount(c, "schedule.keep_last", &s.keep_last));
  MAESTRO_RETURN_IF_ERROR(GetCount(c, "schedule.keep_hourly", &s.keep_hourly));
  MAESTRO_RETURN_IF_ERROR(GetCount(c, "schedule.keep_daily", &s.keep_daily));
  MAESTRO_RETURN_IF_ERROR(GetCount(c, "schedule.keep_weekly", &s.keep_weekly));
  MAESTRO_RETURN_IF_ERROR(GetCount(c, "schedule.keep_monthly", &s.keep_monthly));
  MAESTRO_RETURN_IF_ERROR(GetCount(c, "schedule.keep_yearly", &s.keep_yearly));
  if (s.prune_enabled && s.keep_last + s.keep_hourly + s.keep_daily + s.keep_weekly + s.keep_monthly +
                                 s.keep_yearly == 0)
    return Status::InvalidArgument(c.origin() +
                                   ": every schedule.keep_* is 0, so prune would delete every snapshot; "
                                   "set at least one keep_* or schedule.prune = off");
  MAESTRO_RETURN_IF_ERROR(GetFlag(c, "schedule.monitor", &s.monitor_enabled));
  if (c.Has("schedule.monitor_interval")) {
    // A bare number is minutes (the original monitor's unit); "90m", "2h" also work.
    std::string v = c.Get("schedule.monitor_interval");
    bool bare = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
    auto d = ParseDurationSeconds(bare ? v + "m" : v);
    if (!d.ok() || *d < 1)
      return Status::InvalidArgument(c.origin() + ": schedule.monitor_interval = '" + v +
                                     "' is not a positive number of minutes (or a duration like 90m, 2h)");
    s.monitor_interval_s = *d;
  }
  MAESTRO_RETURN_IF_ERROR(GetFlag(c, "schedule.monitor_repair", &s.monitor_repair));
  MAESTRO_RETURN_IF_ERROR(GetFlag(c, "schedule.monitor_repair_while_live", &s.monitor_repair_while_live));
  MAESTRO_RETURN_IF_ERROR(GetFlag(c, "schedule.drill", &s.drill_enabled));
  MAESTRO_RETURN_IF_ERROR(GetSeconds(c, "schedule.drill_interval", &s.drill_interval_s));
  if (c.Has("schedule.drill_scratch")) s.drill_scratch = c.Get("schedule.drill_scratch");
  MAESTRO_RETURN_IF_ERROR(GetSeconds(c, "schedule.failed_after", &s.failed_stale_after_s));
  MAESTRO_RETURN_IF_ERROR(GetSeconds(c, "schedule.stuck_after", &s.stuck_processing_after_s));
  MAESTRO_RETURN_IF_ERROR(GetSeconds(c, "schedule.lock_wait", &s.lock_wait_s));
  MAESTRO_RETURN_IF_ERROR(GetSeconds(c, "schedule.tick", &s.tick_s));
  if (s.tick_s < 1) return Status::InvalidArgument(c.origin() + ": schedule.tick must be at least 1s");
  s.log_path = c.Get("schedule.log");
  MAESTRO_RETURN_IF_ERROR(ReadCopyConfig(c, &s));
  return s;
}

int64_t ScheduleConfig::CopyRetryDelaySeconds(int64_t failures) const {
  int64_t d = std::max<int64_t>(1, copy_retry_min_s);
  for (int64_t i = 1; i < failures && d < copy_retry_max_s; ++i) d *= 2;  // bounded: stops at the cap
  return std::min(d, std::max<int64_t>(1, copy_retry_max_s));
}

// ---- slots --------------------------------------------------------------

int64_t LatestSlotAtOrBefore(int64_t t_micros, int hour, int minute) {
  time_t secs = static_cast<time_t>(t_micros / kMicros);
  struct tm lt {};
  localtime_r(&secs, &lt);
  int64_t slot = LocalSlot(lt, 0, hour, minute);
  if (slot > t_micros) slot = LocalSlot(lt, -1, hour, minute);
  return slot;
}

int64_t NextSlotAfter(int64_t t_micros, int hour, int minute) {
  time_t secs = static_cast<time_t>(t_micros / kMicros);
  struct tm lt {};
  localtime_r(&secs, &lt);
  int64_t slot = LocalSlot(lt, 0, hour, minute);
  if (slot <= t_micros) slot = LocalSlot(lt, 1, hour, minute);
  return slot;
}

// ---- log ----------------------------------------------------------------

EventLog::~EventLog() {
  if (owned_ && out_) std::fclose(out_);
}

Result<std::unique_ptr<EventLog>> EventLog::OpenFile(Env* clock, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "a");
  if (!f) return PosixError("cannot open the schedule log " + path + " for appending (schedule.log / --log)", errno);
  auto log = std::make_unique<EventLog>(clock, f);
  log->owned_ = true;
  return log;
}

void EventLog::Emit(const std::string& event, nlohmann::json fields) {
  nlohmann::json line = {{"ts", FormatIso8601(clock_->NowMicros())}, {"event", event}};
  if (fields.is_object())
    for (auto& [k, v] : fields.items()) line[k] = v;
  std::string text = JsonText(line) + "\n";
  std::lock_guard<std::mutex> g(mu_);
  if (out_) {
    std::fwrite(text.data(), 1, text.size(), out_);
    std::fflush(out_);
  }
  lines_.push_back(std::move(line));
}

std::vector<nlohmann::json> EventLog::lines() const {
  std::lock_guard<std::mutex> g(mu_);
  return lines_;
}

// ---- jobs and state -----------------------------------------------------

const char* JobName(JobKind k) {
  switch (k) {
    case JobKind::kRecover: return "recover";
    case JobKind::kSnapshot: return "snapshot";
    case JobKind::kPrune: return "prune";
    case JobKind::kMonitor: return "monitor";
    case JobKind::kDrill: return "drill";
    case JobKind::kCopy: return "copy";
  }
  return "?";
}

Result<JobKind> ParseJobName(const std::string& name) {
  for (JobKind k :
       {JobKind::kRecover, JobKind::kSnapshot, JobKind::kPrune, JobKind::kMonitor, JobKind::kDrill, JobKind::kCopy})
    if (name == JobName(k)) return k;
  return Status::InvalidArgument("unknown job '" + name + "': use snapshot, prune, monitor, drill, copy or recover");
}

nlohmann::json ScheduleState::ToJson() const {
  return {{"version", 1},
          {"first_start", first_start},
          {"first_start_iso", FormatIso8601(first_start)},
          {"snapshot", JobStateJson(snapshot)},
          {"prune", JobStateJson(prune)},
          {"monitor", JobStateJson(monitor)},
          {"drill", JobStateJson(drill)},
          {"copy", JobStateJson(copy)},
          {"offsite_newest", OptTime(offsite_newest)},
          {"offsite_newest_iso", offsite_newest ? nlohmann::json(FormatIso8601(*offsite_newest)) : nlohmann::json(nullptr)},
          {"stale_notified", OptTime(stale_notified)}};
}

Result<ScheduleState> ScheduleState::FromJson(const nlohmann::json& j) {
  if (!j.is_object() || ReadOptTime(j, "version") != std::optional<int64_t>(1) || !ReadOptTime(j, "first_start"))
    return Status::Corruption("not a version 1 schedule state (no version/first_start)");
  ScheduleState s;
  s.first_start = *ReadOptTime(j, "first_start");
  for (auto [key, js] : {std::pair<const char*, JobState*>{"snapshot", &s.snapshot},
                         {"prune", &s.prune}, {"monitor", &s.monitor}, {"drill", &s.drill}, {"copy", &s.copy}}) {
    auto it = j.find(key);
    if (it != j.end()) *js = JobStateFromJson(*it);
  }
  s.offsite_newest = ReadOptTime(j, "offsite_newest");
  s.stale_notified = ReadOptTime(j, "stale_notified");
  return s;
}

// ---- scheduler ----------------------------------------------------------

Scheduler::Scheduler(Env* env, ScheduleConfig config, Jobs jobs, EventLog* log, std::string state_path)
    : env_(env),
      config_(std::move(config)),
      jobs_(std::move(jobs)),
      log_(log),
      state_path_(std::move(state_path)),
      sleep_slice_us_(200000) {}

Status Scheduler::SaveState() {
  Status st = WriteFileDurably(env_, state_path_, JsonText(state_.ToJson(), 2) + "\n", 0600);
  if (!st.ok()) {
    log_->Emit("error", {{"what", "state_write"}, {"path", state_path_}, {"message", st.ToString()}});
    return st.Annotate("writing the schedule state " + state_path_);
  }
  return st;
}

Status Scheduler::Start() {
  int64_t now = env_->NowMicros();
  bool fresh = true;
  std::string text;
  if (env_->FileExists(state_path_)) {
    Status st = env_->ReadFileToString(state_path_, &text);
    Result<ScheduleState> parsed = Status::Corruption("unreadable");
    if (st.ok()) {
      nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
      parsed = ScheduleState::FromJson(j);
    }
    if (st.ok() && parsed.ok()) {
      state_ = std::move(parsed).value();
      fresh = false;
    } else {
      // A damaged state file only costs us the memory of last runs; starting over
      // is safe (no catch-up for past slots), so the service does not refuse to run.
      log_->Emit("state_reset", {{"path", state_path_},
                                 {"reason", st.ok() ? parsed.status().ToString() : st.ToString()},
                                 {"effect", "last-run times forgotten; the next slot runs as scheduled"}});
    }
  }
  if (fresh) {
    state_ = ScheduleState();
    state_.first_start = now;
    MAESTRO_RETURN_IF_ERROR(SaveState());
  }
  nlohmann::json start = {
      {"state", state_path_},
      {"first_start", FormatIso8601(state_.first_start)},
      {"snapshot", config_.snapshot_enabled},
      {"snapshot_time", (config_.snapshot_hour < 10 ? "0" : "") + std::to_string(config_.snapshot_hour) + ":" +
                            (config_.snapshot_minute < 10 ? "0" : "") + std::to_string(config_.snapshot_minute)},
      {"prune", config_.prune_enabled},
      {"retention", {{"keep_last", config_.keep_last}, {"keep_hourly", config_.keep_hourly},
                     {"keep_daily", config_.keep_daily}, {"keep_weekly", config_.keep_weekly},
                     {"keep_monthly", config_.keep_monthly}, {"keep_yearly", config_.keep_yearly}}},
      {"monitor", config_.monitor_enabled},
      {"monitor_interval_s", config_.monitor_interval_s},
      {"monitor_repair", config_.monitor_repair},
      {"drill", config_.drill_enabled},
      {"drill_interval_s", config_.drill_interval_s},
      {"lock_wait_s", config_.lock_wait_s},
      {"tick_s", config_.tick_s},
      {"copy_to", config_.copy_to.empty() ? nlohmann::json(nullptr) : nlohmann::json(config_.copy_to)},
      {"notify", !config_.notify_command.empty()}};
  if (config_.copy_enabled()) {
    start["copy_max_age_s"] = config_.copy_max_age_s;
    start["copy_retention"] = {{"prune", config_.copy_prune},          {"keep_last", config_.copy_keep_last},
                               {"keep_hourly", config_.copy_keep_hourly}, {"keep_daily", config_.copy_keep_daily},
                               {"keep_weekly", config_.copy_keep_weekly}, {"keep_monthly", config_.copy_keep_monthly},
                               {"keep_yearly", config_.copy_keep_yearly}};
  }
  if (snapshot_due(now)) start["catch_up"] = "snapshot";
  log_->Emit("start", start);
  TryRecover(never_stop_).IgnoreError("RunJob logged the failure; every tick retries recovery before any job");
  return Status::OK();
}

Status Scheduler::TryRecover(const std::atomic<bool>& stop) {
  if (recovered_) return Status::OK();
  if (!jobs_.recover) {
    recovered_ = true;
    return Status::OK();
  }
  JobState unused;
  Status st = RunJob(JobKind::kRecover, jobs_.recover, &unused, stop);
  if (st.ok()) recovered_ = true;
  return st;
}

bool Scheduler::snapshot_due(int64_t now) const {
  if (!config_.snapshot_enabled || !jobs_.snapshot) return false;
  int64_t slot = LatestSlotAtOrBefore(now, config_.snapshot_hour, config_.snapshot_minute);
  // Slots before the service ever ran here are not "missed": like systemd's
  // Persistent=true without a stamp file, the first start does not catch up.
  if (slot < state_.first_start) return false;
  return !state_.snapshot.last_success || *state_.snapshot.last_success < slot;
}

bool Scheduler::prune_due() const {
  if (!config_.prune_enabled || !jobs_.prune || !state_.snapshot.last_success) return false;
  return !state_.prune.last_success || *state_.prune.last_success < *state_.snapshot.last_success;
}

bool Scheduler::monitor_due(int64_t now) const {
  if (!config_.monitor_enabled || !jobs_.monitor) return false;
  return !state_.monitor.last_success ||
         now >= *state_.monitor.last_success + config_.monitor_interval_s * kMicros;
}

bool Scheduler::drill_due(int64_t now) const {
  if (!config_.drill_enabled || !jobs_.drill || !state_.snapshot.last_success) return false;
  return !state_.drill.last_attempt || now >= *state_.drill.last_attempt + config_.drill_interval_s * kMicros;
}

bool Scheduler::copy_due(int64_t now) const {
  if (!config_.copy_enabled() || !jobs_.copy || !state_.snapshot.last_success) return false;
  if (state_.copy.last_success && *state_.copy.last_success >= *state_.snapshot.last_success) return false;
  if (state_.copy.consecutive_failures > 0 && state_.copy.last_attempt)
    return now >= *state_.copy.last_attempt + config_.CopyRetryDelaySeconds(state_.copy.consecutive_failures) * kMicros;
  return true;
}

bool Scheduler::copy_stale(int64_t now) const {
  if (!config_.copy_enabled() || config_.copy_max_age_s <= 0) return false;
  int64_t since = state_.copy.last_success.value_or(state_.first_start);
  return now - since > config_.copy_max_age_s * kMicros;
}

nlohmann::json Scheduler::OffsiteHealth(const ScheduleConfig& config, const ScheduleState& state, int64_t now) {
  if (!config.copy_enabled()) return nullptr;
  int64_t since = state.copy.last_success.value_or(state.first_start);
  bool stale = config.copy_max_age_s > 0 && now - since > config.copy_max_age_s * kMicros;
  nlohmann::json j = {{"target", config.copy_to},
                      {"last_success", state.copy.last_success ? nlohmann::json(FormatIso8601(*state.copy.last_success))
                                                               : nlohmann::json(nullptr)},
                      {"newest", state.offsite_newest ? nlohmann::json(FormatIso8601(*state.offsite_newest))
                                                      : nlohmann::json(nullptr)},
                      {"newest_age_s", state.offsite_newest ? nlohmann::json((now - *state.offsite_newest) / kMicros)
                                                            : nlohmann::json(nullptr)},
                      {"max_age_s", config.copy_max_age_s},
                      {"stale", stale}};
  if (stale)
    j["error"] = "no successful off-site copy to " + config.copy_to + " for " + std::to_string((now - since) / kMicros) +
                 "s (" + (state.copy.last_success ? "since " + FormatIso8601(*state.copy.last_success)
                                                  : std::string("never, since the service first started")) +
                 "), more than copy_max_age " + std::to_string(config.copy_max_age_s) + "s" +
                 (state.copy.last_error.empty() ? "" : "; last error: " + state.copy.last_error);
  return j;
}

void Scheduler::Notify(const char* job, const std::string& outcome, const std::string& message, nlohmann::json extra) {
  if (!notify_) return;
  nlohmann::json ev = {{"job", job}, {"outcome", outcome}, {"message", message},
                       {"time", FormatIso8601(env_->NowMicros())}};
  if (extra.is_object())
    for (auto& [k, v] : extra.items())
      if (!ev.contains(k)) ev[k] = v;
  try {
    notify_(ev);
  } catch (const std::exception& e) {
    log_->Emit("notify_failed", {{"job", job}, {"message", std::string("notifier threw: ") + e.what()}});
  }
}

// Logged and notified when the copy turns stale, then again every copy_max_age
// while it stays so: a reminder, not a line per tick.
void Scheduler::CheckCopyStaleness(int64_t now) {
  if (!copy_stale(now)) return;
  if (state_.stale_notified && now - *state_.stale_notified < config_.copy_max_age_s * kMicros) return;
  nlohmann::json health = OffsiteHealth(config_, state_, now);
  std::string message = ReadString(health, "error");
  log_->Emit("error", {{"what", "copy_stale"}, {"job", "copy"}, {"message", message}, {"offsite", health}});
  Notify("copy", "stale", message, {{"offsite", health}});
  state_.stale_notified = now;
  SaveState().IgnoreError("SaveState logged it; the reminder may repeat after a restart");
}

int64_t Scheduler::NextDueMicros(int64_t now) const {
  int64_t next = INT64_MAX;
  if (config_.snapshot_enabled && jobs_.snapshot)
    next = snapshot_due(now) ? now : NextSlotAfter(now, config_.snapshot_hour, config_.snapshot_minute);
  if (config_.monitor_enabled && jobs_.monitor) {
    int64_t m = state_.monitor.last_success ? *state_.monitor.last_success + config_.monitor_interval_s * kMicros
                                            : now;
    next = std::min(next, std::max(m, now));
  }
  if (config_.drill_enabled && jobs_.drill && state_.snapshot.last_success)
    next = std::min(next, state_.drill.last_attempt
                              ? std::max(now, *state_.drill.last_attempt + config_.drill_interval_s * kMicros)
                              : now);
  if (prune_due()) next = now;
  if (config_.copy_enabled() && jobs_.copy && state_.snapshot.last_success &&
      (!state_.copy.last_success || *state_.copy.last_success < *state_.snapshot.last_success)) {
    int64_t retry = state_.copy.consecutive_failures > 0 && state_.copy.last_attempt
                        ? *state_.copy.last_attempt + config_.CopyRetryDelaySeconds(state_.copy.consecutive_failures) * kMicros
                        : now;
    next = std::min(next, std::max(now, retry));
  }
  if (config_.copy_enabled() && config_.copy_max_age_s > 0) {  // wake when it turns stale, or for the reminder
    int64_t stale_at = state_.copy.last_success.value_or(state_.first_start) + config_.copy_max_age_s * kMicros + 1;
    if (state_.stale_notified) stale_at = std::max(stale_at, *state_.stale_notified + config_.copy_max_age_s * kMicros);
    next = std::min(next, std::max(now, stale_at));
  }
  return next;
}

Status Scheduler::RunJob(JobKind kind, const JobFn& fn, JobState* js, const std::atomic<bool>& stop) {
  const char* name = JobName(kind);
  int64_t start = env_->NowMicros();
  log_->Emit("job_start", {{"job", name}});
  JobContext ctx{env_, config_, *log_, stop, start, nlohmann::json::object()};
  Status st;
  try {
    st = fn(ctx);
  } catch (const std::exception& e) {
    // A job must never take the service down; an exception is a bug, logged as such.
    st = Status::Internal(std::string(name) + " job threw an exception", e.what());
  }
  int64_t end = env_->NowMicros();
  nlohmann::json fields = {{"job", name},
                           {"duration_ms", (end - start) / 1000},
                           {"outcome", st.ok() ? "ok" : (st.IsBusy() ? "skipped" : "failed")}};
  for (auto& [k, v] : ctx.details.items())
    if (!fields.contains(k)) fields[k] = v;  // a job's details never override job/outcome/duration
  js->last_attempt = start;
  if (st.ok()) {
    js->last_success = start;
    js->last_outcome = "ok";
    js->last_error.clear();
    js->consecutive_failures = 0;
    if (kind == JobKind::kCopy) {
      auto newest = ctx.details.find("offsite_newest_micros");
      if (newest != ctx.details.end() && newest->is_number_integer()) state_.offsite_newest = newest->get<int64_t>();
      state_.stale_notified.reset();  // fresh again: the next staleness is news
    }
  } else {
    js->last_outcome = st.IsBusy() ? "skipped" : "failed";
    js->last_error = st.ToString();
    ++js->consecutive_failures;
    fields["error"] = st.ToString();
    fields["retry"] = kind == JobKind::kCopy
                          ? "in " + std::to_string(config_.CopyRetryDelaySeconds(js->consecutive_failures)) + "s"
                          : "next tick";
  }
  if (kind == JobKind::kMonitor && config_.copy_enabled()) {
    // The monitor's output says whether the off-site copy is stale (an error there too).
    nlohmann::json health = OffsiteHealth(config_, state_, end);
    fields["offsite"] = health;
    if (IsStale(health)) fields["offsite_error"] = health["error"];
  }
  log_->Emit("job_end", fields);
  if (!st.ok() && !st.IsBusy())
    Notify(name, "failed", st.ToString(), {{"duration_ms", (end - start) / 1000}, {"consecutive_failures", js->consecutive_failures}});
  if (kind != JobKind::kRecover) {
    Status save = SaveState();
    if (st.ok() && !save.ok()) return save;
  }
  return st;
}

Status Scheduler::RunDue(const std::atomic<bool>* stop) { return RunDueUntil(stop ? *stop : never_stop_); }

Status Scheduler::RunDueUntil(const std::atomic<bool>& stop) {
  Status first;
  auto note = [&first](const Status& s) {
    if (first.ok() && !s.ok()) first = s;
  };
  Status rec = TryRecover(stop);
  if (!rec.ok()) {
    log_->Emit("jobs_held", {{"reason", "recovery of an unfinished transaction failed; retrying next tick"}});
    return rec;
  }
  if (!stop && snapshot_due(env_->NowMicros())) note(RunJob(JobKind::kSnapshot, jobs_.snapshot, &state_.snapshot, stop));
  if (!stop && prune_due()) note(RunJob(JobKind::kPrune, jobs_.prune, &state_.prune, stop));
  if (!stop && monitor_due(env_->NowMicros())) note(RunJob(JobKind::kMonitor, jobs_.monitor, &state_.monitor, stop));
  if (!stop && copy_due(env_->NowMicros())) note(RunJob(JobKind::kCopy, jobs_.copy, &state_.copy, stop));
  if (!stop && drill_due(env_->NowMicros())) note(RunJob(JobKind::kDrill, jobs_.drill, &state_.drill, stop));
  CheckCopyStaleness(env_->NowMicros());
  return first;
}

Status Scheduler::RunNow(JobKind kind, const std::atomic<bool>* stop_flag) {
  const std::atomic<bool>& stop = stop_flag ? *stop_flag : never_stop_;
  MAESTRO_RETURN_IF_ERROR(TryRecover(stop));
  if (stop) return Status::Aborted("stopped by a signal before the " + std::string(JobName(kind)) + " job started");
  switch (kind) {
    case JobKind::kRecover: return Status::OK();
    case JobKind::kSnapshot: {
      if (!jobs_.snapshot) return Status::InvalidArgument("no snapshot job configured");
      MAESTRO_RETURN_IF_ERROR(RunJob(kind, jobs_.snapshot, &state_.snapshot, stop));
      if (!stop && prune_due()) return RunJob(JobKind::kPrune, jobs_.prune, &state_.prune, stop);
      return Status::OK();
    }
    case JobKind::kPrune:
      if (!jobs_.prune) return Status::InvalidArgument("no prune job configured");
      return RunJob(kind, jobs_.prune, &state_.prune, stop);
    case JobKind::kMonitor:
      if (!jobs_.monitor) return Status::InvalidArgument("no monitor job configured");
      return RunJob(kind, jobs_.monitor, &state_.monitor, stop);
    case JobKind::kDrill:
      if (!jobs_.drill) return Status::InvalidArgument("no drill job configured");
      return RunJob(kind, jobs_.drill, &state_.drill, stop);
    case JobKind::kCopy: {
      if (!jobs_.copy || !config_.copy_enabled())
        return Status::InvalidArgument("no copy job configured: set copy_to = REPO in the [schedule] section");
      Status st = RunJob(kind, jobs_.copy, &state_.copy, stop);
      CheckCopyStaleness(env_->NowMicros());
      return st;
    }
  }
  return Status::Internal("unknown job kind");
}

Status Scheduler::Run(const std::atomic<bool>& stop, std::optional<int64_t> until) {
  while (!stop) {
    int64_t now = env_->NowMicros();
    if (until && now >= *until) break;
    // Failures are logged by RunJob and retried at the next tick, not at once.
    bool failed = !RunDueUntil(stop).ok();
    if (stop) break;
    now = env_->NowMicros();
    int64_t wake = now + config_.tick_s * kMicros;
    if (!failed) wake = std::min(wake, NextDueMicros(now));
    if (until) wake = std::min(wake, *until);
    // Sleep in slices so a signal is noticed within one slice of real time.
    while (!stop && (now = env_->NowMicros()) < wake)
      env_->SleepMicros(std::min(wake - now, std::max<int64_t>(sleep_slice_us_, 1)));
  }
  log_->Emit("stop", {{"reason", stop ? "signal" : "end of test run"}});
  return Status::OK();
}

}  // namespace maestro
