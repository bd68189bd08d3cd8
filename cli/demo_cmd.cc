// cli/demo_cmd.cc — `maestro-db demo create DIR`: a realistic MAESTRO install
// for trying the tool, for tests and for benchmarks (tools/demo/demo.h).
#include "cli/context.h"
#include "cli/exit_codes.h"
#include "tools/demo/demo.h"
#include "util/time_util.h"

namespace maestro {

void RegisterDemoCommands(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* demo = app.add_subcommand("demo", "Create a realistic demo MAESTRO install to try maestro-db on (see `demo create --help`)");
  ctx.MarkUngated(demo);  // writes a new install, not this one's stores
  demo->require_subcommand(1);
  struct Args {
    std::string dir;
    DemoOptions o;
    std::string now;
  };
  auto a = std::make_shared<Args>();
  auto* create = demo->add_subcommand(
      "create",
      "Write a realistic MAESTRO install into DIR (new or empty): main and ai databases, a ChromaDB\n"
      "vector store with HNSW segment directories, raw PDFs, Markdown and JSON. The same --seed and\n"
      "--now give byte-identical files and mtimes.");
  create->add_option("DIR", a->dir, "directory to create (must not exist, or be empty)")->required();
  create->add_option("--users", a->o.users, "number of users (default 3)");
  create->add_option("--documents", a->o.documents, "documents in main (default 50)");
  create->add_option("--chunks-per-doc", a->o.chunks_per_doc, "chunks per document in each collection (default 6)");
  create->add_option("--pdf-kib", a->o.pdf_kib, "average raw file size in KiB (default 32)");
  create->add_option("--seed", a->o.seed, "random seed (default 1)");
  create->add_flag("--inconsistent", a->o.inconsistent,
                   "also plant at least two cases of every issue kind `check` reports");
  create->add_option("--target-bytes", a->o.target_bytes,
                     "scale raw file sizes so the install totals about this many bytes (overrides --pdf-kib)");
  create->add_option("--chunk-bytes", a->o.chunk_bytes, "text bytes per chunk (default 400)");
  create->add_option("--hnsw-bytes-per-chunk", a->o.hnsw_bytes_per_chunk,
                     "bytes per chunk in data_level0.bin, at least 140 (default: as Chroma, 4236 dense / 1164 sparse)");
  create->add_option("--now", a->now, "the install's current time (ISO-8601; default: now)");
  create->callback([&ctx, exit_code, a]() {
    if (!a->now.empty()) {
      auto t = ParseTime(a->now);
      if (!t.ok()) {
        *exit_code = ctx.Fail(t.status().Annotate("--now"));
        return;
      }
      a->o.now_micros = *t;
    }
    auto s = CreateDemo(ctx.env(), a->dir, a->o);
    if (!s.ok()) {
      *exit_code = ctx.Fail(s.status());
      return;
    }
    if (ctx.json()) {
      nlohmann::json planted = nlohmann::json::array();
      for (const auto& p : s->planted)
        planted.push_back({{"doc_id", p.doc_id}, {"store", StoreName(p.store)}, {"kind", IssueKindName(p.kind)}});
      ctx.PrintJson({{"root", s->root},
                     {"users", s->users},
                     {"documents", s->documents},
                     {"chunks_per_collection", s->chunks},
                     {"raw_files", s->raw_files},
                     {"bytes", s->bytes},
                     {"planted", planted}});
    } else {
      ctx.Info("demo install written to " + s->root + ": " + std::to_string(s->users) + " users, " +
               std::to_string(s->documents) + " documents, " + std::to_string(s->chunks) +
               " chunks per collection, " + std::to_string(s->raw_files) + " raw files, " + FormatBytes(s->bytes));
      if (!s->planted.empty())
        ctx.Info("planted " + std::to_string(s->planted.size()) + " issues for `maestro-db check` to find");
      ctx.Info("try: maestro-db --root " + s->root + " stats");
    }
    *exit_code = kExitOk;
  });
}

}  // namespace maestro
