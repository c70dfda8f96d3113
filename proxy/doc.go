// Package proxy captures and reproduces the model calls of any agent
// without changing its code.
//
// A Proxy is a reverse proxy for the OpenAI Chat Completions and Responses
// APIs and the Anthropic Messages API (and any other HTTP API: unknown
// paths are proxied and recorded verbatim). The agent changes only its base
// URL. Server-sent events pass through chunk by chunk, flushed on every
// write; compressed bodies pass through compressed; errors and rate-limit
// answers pass through unchanged. When the upstream fails the agent gets a
// JSON error (502 unreachable or broken, 504 timed out) that both SDKs
// parse.
//
// With a record directory, a background writer keeps one cassette per run
// (DIR/cassettes/<run>.json, format in CASSETTE.md) and the run's rebuilt
// conversation (DIR/traces/<run>.json, OpenAI messages, which `probity
// analyze` reads). Runs are named by the X-Probity-Run header or a
// /_probity/run/<id>/ path prefix, or else grouped by shared conversation
// prefix. Secrets never reach disk: credential headers, key-bearing query
// parameters, configured JSON fields, and any other occurrence of those
// values are replaced by REDACTED before anything is written or logged.
//
// A Replayer answers from cassettes without contacting any upstream, and
// tells the agent exactly where a request first departs from the
// recording. Options.Guard is the hook runtime policies plug into.
package proxy
