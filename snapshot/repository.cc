// Placeholder until the snapshot repository lands (issue 3).
namespace maestro { namespace snapshot_placeholder { int unused = 0; } }
