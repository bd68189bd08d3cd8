// Placeholder until the journal layer lands (issue 4).
namespace maestro { namespace journal_placeholder { int unused = 0; } }
