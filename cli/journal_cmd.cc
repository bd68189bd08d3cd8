// cli/journal_cmd.cc — `maestro-db journal status|log`: the transaction journal,
// read-only (journal/journal.h). Exempt from the unfinished-transaction gate.
// With a remote --repo the journal is the one its transactions keep in the
// local repository (cli/remote_txn.h): the default under --root; a journal
// kept in a --pre-image-repo DIR is read with --repo DIR.
#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/remote_txn.h"
#include "cli/txn_cmd.h"
#include "engine/txn/recover.h"
#include "journal/journal.h"
#include "util/time_util.h"

namespace maestro {

namespace {

nlohmann::json TxnJson(const TxnSummary& t) {
  return {{"transaction", t.txn_id},       {"kind", t.kind},
          {"began", FormatIso8601(t.begun_micros)}, {"snapshot", t.snapshot_id},
          {"steps_done", t.done.size()},   {"steps_undone", t.undone.size()},
          {"committed", t.committed},      {"ended", t.ended},
          {"outcome", t.outcome},          {"description", t.Describe()}};
}

// The layout whose repository holds the journal: with a remote --repo, the local one.
Result<Layout> JournalLayout(CliContext& ctx) {
  if (!RemoteRepoOf(ctx).empty()) ctx.UseLocalRepository("", /*create_root=*/false);
  return ctx.LoadLayout();
}

Status RunJournalStatus(CliContext& ctx) {
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, JournalLayout(ctx));
  std::string dir = JournalDir(layout.repo());
  if (!ctx.env()->FileExists(JoinPath(dir, "data.mdb"))) {
    if (ctx.json()) ctx.PrintJson({{"journal", dir}, {"exists", false}, {"unfinished", nullptr}, {"last", nullptr}});
    else ctx.Info("no journal yet at " + dir + ": no transaction has run");
    return Status::OK();
  }
  MAESTRO_ASSIGN_OR_RETURN(auto j, Journal::Open(ctx.env(), dir, false));
  MAESTRO_ASSIGN_OR_RETURN(auto txns, j->Transactions());
  const TxnSummary* unfinished = nullptr;
  for (auto it = txns.rbegin(); it != txns.rend() && !unfinished; ++it)
    if (!it->ended) unfinished = &*it;
  std::vector<std::string> trash = FindTrash(ctx.env(), layout);
  if (ctx.json()) {
    ctx.PrintJson({{"journal", dir},
                   {"exists", true},
                   {"trash", trash},
                   {"transactions", txns.size()},
                   {"map_bytes", j->map_size()},
                   {"unfinished", unfinished ? TxnJson(*unfinished) : nlohmann::json(nullptr)},
                   {"last", txns.empty() ? nlohmann::json(nullptr) : TxnJson(txns.back())}});
    return Status::OK();
  }
  ctx.Info("journal " + dir + ": " + std::to_string(txns.size()) + " transaction(s)");
  if (unfinished) {
    ctx.Info("UNFINISHED: " + unfinished->Describe());
    ctx.Info("  run `maestro-db recover` (" + std::string(unfinished->committed ? "rolls forward" : "rolls back") +
             "), or `recover --rollback` / `recover --resume`");
  } else if (!txns.empty()) {
    ctx.Info("last: " + txns.back().Describe());
  }
  if (!trash.empty())
    ctx.Info("trash: " + std::to_string(trash.size()) +
             " entries of old store data not yet deleted (`maestro-db purge-trash` deletes them now)");
  return Status::OK();
}

Status RunJournalLog(CliContext& ctx, size_t limit) {
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, JournalLayout(ctx));
  std::string dir = JournalDir(layout.repo());
  std::vector<JournalRecord> recs;
  if (ctx.env()->FileExists(JoinPath(dir, "data.mdb"))) {
    MAESTRO_ASSIGN_OR_RETURN(auto j, Journal::Open(ctx.env(), dir, false));
    MAESTRO_ASSIGN_OR_RETURN(recs, j->ReadTail(limit));
  }
  if (ctx.json()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& r : recs) {
      nlohmann::json e = {{"seq", r.seq}, {"time", FormatIso8601(r.time_micros)}, {"time_micros", r.time_micros},
                          {"type", RecordTypeName(r.type)},
                          {"transaction", r.txn_id}};
      if (!r.kind.empty()) e["kind"] = r.kind;
      if (r.step >= 0) e["step"] = r.step, e["step_name"] = r.step_name;
      if (!r.snapshot_id.empty()) e["snapshot"] = r.snapshot_id;
      if (!r.outcome.empty()) e["outcome"] = r.outcome;
      if (!r.detail.empty()) e["detail"] = r.detail;
      a.push_back(e);
    }
    ctx.PrintJson({{"journal", dir}, {"records", a}});
    return Status::OK();
  }
  for (const auto& r : recs) {
    std::string line = std::to_string(r.seq) + "  " + FormatIso8601(r.time_micros) + "  " + r.txn_id + "  " +
                       RecordTypeName(r.type);
    if (!r.kind.empty()) line += " " + r.kind;
    if (r.step >= 0) line += " #" + std::to_string(r.step) + " " + r.step_name;
    if (!r.snapshot_id.empty()) line += " snapshot " + r.snapshot_id;
    if (!r.outcome.empty()) line += " " + r.outcome;
    if (!r.detail.empty()) line += " (" + r.detail + ")";
    ctx.Info(line);
  }
  if (recs.empty()) ctx.Info("the journal is empty");
  return Status::OK();
}

}  // namespace

void RegisterJournalCommands(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto finish = [&ctx, exit_code](const Status& st) { *exit_code = st.ok() ? kExitOk : ctx.Fail(st); };
  // journal
  auto* journal = app.add_subcommand("journal", "Show the transaction journal (read-only)");
  journal->require_subcommand(1);
  ctx.MarkUngated(journal);  // read-only, and where the gate's refusal points
  journal->add_subcommand("status", "the unfinished transaction, if any, and the last one")
      ->callback([finish, &ctx]() { finish(RunJournalStatus(ctx)); });
  auto limit = std::make_shared<size_t>(50);
  auto* log = journal->add_subcommand("log", "the newest journal records, oldest first");
  log->add_option("--limit", *limit, "how many records (default 50)");
  log->callback([finish, limit, &ctx]() { finish(RunJournalLog(ctx, *limit)); });
}

}  // namespace maestro
