// Command agent is the demo agent that the README's tour and
// examples/eval/suite.yaml evaluate: a small stochastic agent whose chance
// of answering right is set by each case (input.p), so you can watch how
// intervals, flaky/stable classes and the gate behave on known truth.
//
// It speaks the eval harness's standard request ({"id", "trial", "input"})
// in both target shapes:
//
//	go run ./examples/agent < request.json            # one request on stdin (an exec target)
//	go run ./examples/agent --listen 127.0.0.1:8080   # HTTP until interrupted (an http target)
//
// The case's input says what to do: answer (the right answer), p (the
// probability of giving it), latency_ms, tools (called in order, reported as
// an OpenAI-shaped trace), wrong_tool, and error or error_rate to fail as a
// target (500, crash, hang, garbage, 429). Draws are a hash of (seed, case,
// trial), so a trial is reproducible; --seed gives another independent run
// and a negative --delta plants a regression for "probity eval compare".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/probity/probity/internal/testagent"
)

func main() { os.Exit(run()) }

func run() int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	listen := fs.String("listen", "", "serve HTTP on this address (host:port) instead of answering one request on stdin")
	seed := fs.Uint64("seed", envUint("PROBITY_AGENT_SEED"), "seed of the agent's draws (default $PROBITY_AGENT_SEED or 0)")
	delta := fs.Float64("delta", envFloat("PROBITY_AGENT_DELTA"), "add this to every case's pass probability; negative plants a regression (default $PROBITY_AGENT_DELTA or 0)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	a := &testagent.Agent{Seed: *seed, Delta: *delta}
	if *listen == "" {
		err := a.RunExec(ctx, os.Stdin, os.Stdout, os.Stderr)
		switch {
		case errors.Is(err, testagent.ErrCrash):
			return 3 // a crash as the harness sees one: a non-zero exit
		case err != nil:
			fmt.Fprintln(os.Stderr, "agent:", err)
			return 1
		}
		return 0
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		return 2
	}
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("http://%s/\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "agent:", err)
		return 1
	}
	return 0
}

func envUint(k string) uint64 {
	n, _ := strconv.ParseUint(os.Getenv(k), 10, 64)
	return n
}

func envFloat(k string) float64 {
	f, _ := strconv.ParseFloat(os.Getenv(k), 64)
	return f
}
