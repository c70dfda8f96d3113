package eval

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"time"
)

// execTarget runs a command per trial: the request as JSON on stdin, the
// reply as JSON on stdout.
type execTarget struct {
	spec *ExecTargetSpec
	dir  string
}

// limitedBuffer keeps at most max bytes so a chatty subprocess cannot
// exhaust memory; overflow is noted.
type limitedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room < len(p) {
		b.overflow = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (t *execTarget) Run(ctx context.Context, req Request) (*Output, error) {
	body, err := requestBody(t.spec.Request, req)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, t.program(), t.spec.Command[1:]...)
	cmd.Dir = t.dir
	cmd.Stdin = bytes.NewReader(body)
	if len(t.spec.Env) > 0 {
		cmd.Env = os.Environ()
		for k, v := range t.spec.Env {
			cmd.Env = append(cmd.Env, k+"="+expandEnv(v))
		}
	}
	stdout := &limitedBuffer{max: maxReply}
	stderr := &limitedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A killed command whose children still hold the pipes must not hang
	// the trial.
	cmd.WaitDelay = 2 * time.Second
	ownProcessGroup(cmd)
	err = cmd.Run()
	// Whatever the command left running in its group (a daemonised
	// helper, a worker a crashed parent did not reap) ends with the trial.
	_ = killGroup(cmd)
	if ctx.Err() != nil {
		return nil, ctxErr(ctx)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, targetErr("crash", "%s: %v%s", t.spec.Command[0], ee, stderrTail(stderr))
		}
		return nil, targetErr("crash", "%v", err)
	}
	if stdout.overflow {
		return nil, targetErr("garbage", "reply over the size limit of %d MiB; not read further", maxReply>>20)
	}
	return parseReply(stdout.buf.Bytes(), t.spec.Response)
}

func stderrTail(b *limitedBuffer) string {
	s := strings.TrimSpace(b.buf.String())
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '\n'); i >= 0 && len(s)-i < 300 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[len(s)-300:]
	}
	return " (stderr: " + s + ")"
}

// program resolves the command. "probity" not on PATH means this very
// binary, so suites that run the demo agent work under "go run" too.
func (t *execTarget) program() string {
	name := t.spec.Command[0]
	if name == "probity" {
		if _, err := exec.LookPath(name); err != nil {
			if self, err := os.Executable(); err == nil {
				return self
			}
		}
	}
	return name
}
