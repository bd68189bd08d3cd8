// cli/inspect_cmd.cc — the read-only commands: `stats` and `check`.
// Parsing and printing only; the work is engine/stores/stats.h and engine/stores/check.h.
//
// Both read the stores only, never the repository: with a remote --repo
// (rclone:REMOTE:PATH) they run on the install as with a local one, without
// reaching the remote, and `stats` names the remote as the repository.
#include <cstdio>
#include <iostream>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "engine/stores/check.h"
#include "engine/stores/stats.h"
#include "util/time_util.h"

namespace maestro {

namespace {

nlohmann::json OptionalCount(const std::optional<int64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

std::string Count(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "(no table)"; }

std::string Pad(const std::string& s, size_t w) { return s.size() >= w ? s + " " : s + std::string(w - s.size(), ' '); }

nlohmann::json StatsJson(const Stats& st) {
  nlohmann::json stores = nlohmann::json::object();
  for (const auto& s : st.stores)
    stores[s.name] = {{"present", s.present}, {"path", s.path}, {"bytes", s.bytes}};
  nlohmann::json by_status = nlohmann::json::object();
  for (const auto& [k, v] : st.documents_by_status) by_status[k.empty() ? "null" : k] = v;
  nlohmann::json chunks = nlohmann::json::object();
  for (const auto& [k, v] : st.chunks_per_collection) chunks[k] = v;
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [k, v] : st.files_per_dir) files[k] = v;
  return {
      {"stores", stores},
      {"main",
       {{"users", OptionalCount(st.users)},
        {"documents", st.documents},
        {"documents_by_status", by_status},
        {"chats", OptionalCount(st.chats)},
        {"messages", OptionalCount(st.messages)},
        {"document_groups", OptionalCount(st.document_groups)}}},
      {"ai", {{"processed_documents", st.processed_documents}}},
      {"vector",
       {{"chunks_per_collection", chunks},
        {"dense_chunks", st.chunks_per_collection.count("research_papers_dense")
                             ? st.chunks_per_collection.at("research_papers_dense") : 0},
        {"sparse_chunks", st.chunks_per_collection.count("research_papers_sparse")
                              ? st.chunks_per_collection.at("research_papers_sparse") : 0},
        {"distinct_documents", st.vector_documents},
        {"hnsw_segment_dirs", st.hnsw_segment_dirs},
        {"hnsw_segments_missing_dir", st.hnsw_segments_missing_dir},
        {"queue_entries", st.queue_entries}}},
      {"files", {{"per_directory", files}, {"unrecognized", st.unrecognized_files}}},
  };
}

void PrintStatsText(const CliContext& ctx, const Stats& st) {
  ctx.Info(Pad("STORE", 10) + Pad("STATE", 9) + Pad("SIZE", 11) + "PATH");
  for (const auto& s : st.stores)
    ctx.Info(Pad(s.name, 10) + Pad(s.present ? "present" : "missing", 9) +
             Pad(s.present ? FormatBytes(s.bytes) : "-", 11) + s.path);
  const auto& main = st.stores[static_cast<int>(StoreId::kMain)];
  if (main.present) {
    ctx.Info("");
    ctx.Info("main:     " + Count(st.users) + " users, " + std::to_string(st.documents) + " documents, " +
             Count(st.chats) + " chats, " + Count(st.messages) + " messages, " + Count(st.document_groups) +
             " document groups");
    std::string line;
    for (const auto& [k, v] : st.documents_by_status)
      line += (line.empty() ? "" : ", ") + (k.empty() ? std::string("(null)") : k) + " " + std::to_string(v);
    if (!line.empty()) ctx.Info("          documents by status: " + line);
  }
  if (st.stores[static_cast<int>(StoreId::kAi)].present)
    ctx.Info("ai:       " + std::to_string(st.processed_documents) + " processed documents");
  if (st.stores[static_cast<int>(StoreId::kVector)].present) {
    std::string line;
    for (const auto& [k, v] : st.chunks_per_collection)
      line += (line.empty() ? "" : ", ") + k + " " + std::to_string(v);
    ctx.Info("vector:   chunks: " + (line.empty() ? std::string("none") : line));
    ctx.Info("          " + std::to_string(st.vector_documents) + " distinct documents, " +
             std::to_string(st.hnsw_segment_dirs) + " HNSW segment directories" +
             (st.hnsw_segments_missing_dir ? " (" + std::to_string(st.hnsw_segments_missing_dir) + " missing)" : "") +
             ", " + std::to_string(st.queue_entries) + " queued operations");
  }
  for (const auto& [k, v] : st.files_per_dir) ctx.Info(Pad("files in " + k + ":", 34) + std::to_string(v));
  if (st.unrecognized_files)
    ctx.Info("(" + std::to_string(st.unrecognized_files) + " files in the file stores follow no naming rule)");
}

nlohmann::json IssueJson(const Issue& i) {
  return {{"doc_id", i.doc_id},
          {"user_id", i.user_id ? nlohmann::json(*i.user_id) : nlohmann::json(nullptr)},
          {"store", StoreName(i.store)},
          {"kind", IssueKindName(i.kind)},
          {"detail", i.detail},
          {"repair", i.repair()}};
}

nlohmann::json HnswFindingJson(const HnswFinding& f) {
  return {{"doc_id", nullptr},     {"user_id", nullptr},     {"store", "vector"},
          {"kind", kHnswDamagedKind}, {"collection", f.collection}, {"segment", f.segment},
          {"file", f.file},        {"detail", f.detail},     {"repair", kHnswDamagedRepair}};
}

}  // namespace

void RegisterInspectCommands(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* stats = app.add_subcommand("stats", "Show what each store holds (read-only; safe while the app runs)");
  stats->callback([&ctx, exit_code]() {
    auto layout = ctx.LoadLayoutForRemoteRepo();  // a remote --repo is not read here
    if (!layout.ok()) {
      *exit_code = ctx.Fail(layout.status());
      return;
    }
    auto st = CollectStats(*layout);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st.status());
      return;
    }
    if (ctx.json()) {
      nlohmann::json doc = StatsJson(*st);
      doc["root"] = layout->root();
      AddInstallJson(ctx.install(), *layout, &doc);
      ctx.PrintJson(doc);
    } else {
      PrintStatsText(ctx, *st);
      for (const auto& l : DescribeInstall(ctx.install(), *layout)) ctx.Info(l);
    }
    *exit_code = kExitOk;
  });

  struct CheckArgs {
    int64_t user = -1;
    std::string document;
    std::string now;
  };
  auto args = std::make_shared<CheckArgs>();
  auto* check = app.add_subcommand(
      "check",
      "Find inconsistencies across the six stores (read-only). Exit 0: consistent, 1: issues found.\n"
      "Without --user, also finds orphans (ids in ai, vector or files with no document in main).");
  auto* user_opt = check->add_option("--user", args->user, "only this user's documents (users.id); no orphans");
  check->add_option("--document", args->document, "only this document id (needs --user)")->needs(user_opt);
  check->add_option("--now", args->now, "the time the age rules measure from (ISO-8601; default: now)");
  check->callback([&ctx, exit_code, args]() {
    auto layout = ctx.LoadLayoutForRemoteRepo();  // a remote --repo is not read here
    if (!layout.ok()) {
      *exit_code = ctx.Fail(layout.status());
      return;
    }
    CheckOptions opts;
    if (args->user >= 0) opts.user_id = args->user;
    opts.doc_id = args->document;
    if (!args->now.empty()) {
      auto t = ParseTime(args->now);
      if (!t.ok()) {
        *exit_code = ctx.Fail(t.status().Annotate("--now"));
        return;
      }
      opts.now_micros = *t;
    }
    for (char c : opts.doc_id) {
      if (c == '/' || c == '\0' || c == '.') {
        *exit_code = ctx.Fail(Status::InvalidArgument("--document '" + opts.doc_id +
                                                      "': not a document id (8 hex characters, e.g. 7fafabb4)"));
        return;
      }
    }
    auto rep = RunCheck(*layout, opts);
    if (!rep.ok()) {
      *exit_code = ctx.Fail(rep.status());
      return;
    }
    *exit_code = rep->consistent() ? kExitOk : kExitIssuesFound;
    if (ctx.json()) {
      nlohmann::json issues = nlohmann::json::array();
      for (const auto& i : rep->issues) issues.push_back(IssueJson(i));
      for (const auto& f : rep->hnsw) issues.push_back(HnswFindingJson(f));
      nlohmann::json by_kind = nlohmann::json::object(), by_store = nlohmann::json::object();
      for (const auto& [k, v] : rep->issues_by_kind) by_kind[k] = v;
      for (const auto& [k, v] : rep->issues_by_store) by_store[k] = v;
      nlohmann::json scope = {{"user_id", opts.user_id ? nlohmann::json(*opts.user_id) : nlohmann::json(nullptr)},
                              {"document", opts.doc_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(opts.doc_id)}};
      ctx.PrintJson({{"consistent", rep->consistent()},
                     {"issues", issues},
                     {"summary",
                      {{"root", layout->root()},
                       {"scope", scope},
                       {"documents_checked", rep->documents_checked},
                       {"orphans_checked", rep->orphans_checked},
                       {"orphan_ids", rep->orphan_ids},
                       {"issues", rep->issues.size() + rep->hnsw.size()},
                       {"hnsw_checked", rep->hnsw_checked},
                       {"issues_by_kind", by_kind},
                       {"issues_by_store", by_store}}}});
      return;
    }
    for (const auto& i : rep->issues) {
      ctx.Info(i.doc_id + "  user " + (i.user_id ? std::to_string(*i.user_id) : std::string("?")) + "  " +
               Pad(StoreName(i.store), 9) + Pad(IssueKindName(i.kind), 28) + i.detail);
      if (ctx.opts.verbose > 0) ctx.Info("          repair: " + i.repair());
    }
    for (const auto& f : rep->hnsw)
      ctx.Info("-         user ?  " + Pad("vector", 9) + Pad(kHnswDamagedKind, 28) + "segment " + f.segment + " (" +
               f.collection + ") " + (f.file.empty() ? "folder" : f.file) + ": " + f.detail);
    if (!rep->hnsw.empty()) ctx.Info(std::string("The vector index is damaged; repair: ") + kHnswDamagedRepair);
    std::string summary = std::to_string(rep->documents_checked) + " documents checked";
    if (rep->orphans_checked) summary += ", " + std::to_string(rep->orphan_ids) + " orphan ids";
    if (rep->consistent()) {
      ctx.Info("consistent: " + summary + ", no issues");
    } else {
      std::string kinds;
      for (const auto& [k, v] : rep->issues_by_kind)
        if (v) kinds += (kinds.empty() ? "" : ", ") + k + " " + std::to_string(v);
      ctx.Info(std::to_string(rep->issues.size() + rep->hnsw.size()) + " issues (" + kinds + "); " + summary +
               ". Run with -v to see each repair; `maestro-db cleanup` applies them.");
    }
  });
}

}  // namespace maestro
