// Package blindinject plants faults into real, successful agent traces so
// that Probity's detectors can be measured on faults they were not tuned on.
//
// # Why a second injector
//
// The detectors were tuned against the project's own injector
// (internal/detectbench). Reviewers then planted faults phrased and carried
// differently and the detectors missed many of them: an instruction hidden in
// data was found 0.64 and then 0.03 of the time, an order status told to the
// user differently from the tool result 0.31, an error returned as a failure
// object or an HTTP status 0.91. A detector is only as good as the faults it
// was measured on; this package is a second, independent source of them
// (issue 11, section 4).
//
// # How it was written: blind
//
// It was written without opening the detectors, the provenance engine, the
// policy engine or the first injector (detect/, provenance/, policy/,
// internal/detectbench/). Its author read only the trace model (package
// probity), the importers' output (through ingest), the README's list of
// detector ids and what each means, and the real traces in ../shared/data.
// Every fault is designed from the phenomenon it imitates, as real agents and
// real attackers produce it:
//
//   - near-miss identifiers: digit slips, transpositions, dropped or doubled
//     characters, look-alike characters, ids of the right shape that belong
//     to no record the agent saw, and real ids of another record;
//   - contradicted claims: amounts and categorical values (order and flight
//     status, cabin, membership, colour, size, yes/no facts) told to the user
//     differently from the tool result the agent had just read;
//   - swallowed errors in the shapes tools really return them: failure
//     objects, GraphQL and JSON-RPC error members, HTTP status lines and error
//     pages, RFC 7807 problems, Python tracebacks, Node errno errors, Java and
//     gRPC exceptions, SQL errors, non-zero exit codes and failures masked by
//     a pipe;
//   - success claimed with no successful action;
//   - loops and stalls: identical calls, identical calls whose arguments are
//     serialised differently, repeated no-op tools (think, plan, reflect);
//   - injected instructions in untrusted content: tool results (JSON fields
//     addressed to the assistant, HTML and Markdown comments, hidden HTML,
//     zero-width and Unicode tag characters, chat template role delimiters,
//     fake tool-output boundaries, quoted e-mails, other languages), a
//     sub-agent's report, a retrieved document, a file or a tool's output
//     read by a coding agent; worded in several ways (a tool call, a policy
//     notice, a polite request, a conditional trigger, a structured
//     directive), and followed by the side-effecting action they ask for;
//   - cascades: a value corrupted at one step (in a lookup, a scratchpad
//     note or a message) and carried into later steps and an action.
//
// Plant returns the modified trace and its Truth: the class, the variant
// (the carrier or form of the fault), the wording of an injected
// instruction, the source position where the fault begins, the detector id
// expected there, the positions where that detector's finding also counts,
// and the later positions the fault reaches. The written records copy the
// style of the trace around them (call ids, argument spacing and escaping,
// the mini-swe-agent result format), and CheckTrace verifies every planted
// trace is well formed.
// Planting is deterministic for a given trace, class and seed. The base trace
// is never modified. Outcome labels are kept as the base run had them: a
// detector must not read them, and a planted trace is not a real outcome.
//
// The measurement over ../shared/data is TestMeasure:
//
//	go test ./internal/blindinject -run TestMeasure -v
//
// # Frozen
//
// This package is frozen (commit "blindinject: frozen"). Work on the
// detectors must not edit it: not the phrasings, not the carriers, not the
// choice of positions, not the expected detector ids. A change here after the
// freeze would make its numbers one more set the detectors were tuned on. If
// it has a bug that breaks a trace, fix the bug in a commit that says so and
// report the numbers before and after.
package blindinject
