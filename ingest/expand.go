package ingest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/probity/probity"
)

// input is one file to read; walked marks files found inside a directory,
// where files of unknown shape are skipped rather than reported.
type input struct {
	path   string
	walked bool
	err    *probity.Error // the argument matched nothing
}

func (in input) name() string {
	if in.path == "-" {
		return "<stdin>"
	}
	return in.path
}

// Extensions are the file name endings Each reads when walking a directory
// (".traj.json" is covered by ".json"; gzip files are read through).
var Extensions = []string{".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz"}

// Expand turns command-line arguments into the list of files Each would
// read: a file as is (whatever its name), a directory walked recursively
// for files ending in Extensions (hidden files and directories skipped), a
// glob pattern expanded (sorted), "-" for stdin. Arguments that match
// nothing are reported in a *FileErrors (code ENOTFOUND) alongside the paths
// that do exist.
func Expand(args []string) ([]string, error) {
	ins := expand(args)
	fe := &FileErrors{Inputs: len(ins)}
	var out []string
	for _, in := range ins {
		if in.err != nil {
			fe.Errs = append(fe.Errs, in.err)
		} else {
			out = append(out, in.path)
		}
	}
	if len(fe.Errs) > 0 {
		return out, fe
	}
	return out, nil
}

// expand resolves args in order; arguments that match nothing become
// inputs carrying their error, so failures are reported in input order.
func expand(args []string) []input {
	var out []input
	fail := func(e *probity.Error) { out = append(out, input{path: e.File, err: e}) }
	seen := map[string]bool{}
	add := func(in input) {
		if !seen[in.path] || in.path == "-" {
			seen[in.path] = true
			out = append(out, in)
		}
	}
	for _, arg := range args {
		if arg == "-" {
			add(input{path: "-"})
			continue
		}
		st, err := os.Stat(arg)
		if err != nil && hasMeta(arg) {
			matches, gerr := filepath.Glob(arg)
			if gerr != nil {
				fail(&probity.Error{Code: probity.EINVALID, File: arg, Message: "bad glob pattern", Err: gerr})
				continue
			}
			if len(matches) == 0 {
				fail(&probity.Error{Code: probity.ENOTFOUND, File: arg, Message: "no file matches the pattern"})
				continue
			}
			for _, m := range matches {
				if mst, err := os.Stat(m); err == nil && mst.IsDir() {
					walk(m, add, fail)
				} else {
					add(input{path: m})
				}
			}
			continue
		}
		if err != nil {
			fail(openError(arg, err))
			continue
		}
		if st.IsDir() {
			walk(arg, add, fail)
			continue
		}
		add(input{path: arg})
	}
	return out
}

// walk adds the trace files under dir, in lexical order.
func walk(dir string, add func(input), fail func(*probity.Error)) {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			fail(openError(p, err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if p != dir && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !hasExt(name) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// Follow links to files, never to directories (no cycles).
			if st, err := os.Stat(p); err != nil || st.IsDir() {
				return nil
			}
		}
		add(input{path: p, walked: true})
		return nil
	})
	if err != nil {
		fail(openError(dir, err))
	}
}

func hasExt(name string) bool {
	lower := strings.ToLower(name)
	for _, e := range Extensions {
		if strings.HasSuffix(lower, e) {
			return true
		}
	}
	return false
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[`) }
