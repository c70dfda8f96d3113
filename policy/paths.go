package policy

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"golang.org/x/text/unicode/norm"
)

// Paths. A rule about files must see a path as the server that opens it
// will: ".env/.", "a//.env", "sub/../.env" and "./.env" are all ".env" to
// a filesystem server, so a rule that compares strings is bypassed by any
// of them. The functions here resolve a path lexically the way servers do
// (Node's path.resolve, Go's filepath.Clean, the MCP filesystem server):
//
//	path.clean(p)        the path with "\" read as "/", repeated slashes,
//	                     "." and ".." resolved, no trailing slash, Unicode
//	                     in NFC (the MCP filesystem server matches names by
//	                     NFC); "" and "." are "."
//	path.base(p)         the last element of the clean path ("" for "/")
//	path.within(p, root) p, resolved against root when relative (as the
//	                     filesystem server resolves relative paths against
//	                     its root), is root or below it
//	path.match(p, glob)  the clean path matches glob, where "*" and "?" stay
//	                     inside one element (and match a leading dot), "**"
//	                     is any number of elements, and a glob without "/"
//	                     is matched against the base name
//
// and the variable paths, every path-like argument of the call (see
// PathLike): a rule over paths applies to read_multiple_files' list and to
// move_file's source and destination alike.
//
// What no lexical check can see: symbolic and hard links (a link named
// notes.txt may point at .env), "~" (the server's home is unknown here, so
// a path starting with "~" is within no root), case-insensitive file
// systems (compare p.lowerAscii()), and Windows' dropping of trailing dots
// and spaces (".env." opens .env; prefer startsWith(".env") to == ".env").

// pathFunctions are the CEL declarations of the path functions.
func pathFunctions() []cel.EnvOption {
	str := func(name, id string, f func(string) string) cel.EnvOption {
		return cel.Function(name, cel.Overload(id, []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				s, ok := v.(types.String)
				if !ok {
					return types.NewErr("%s: want a string, got %s", name, v.Type())
				}
				return types.String(f(string(s)))
			})))
	}
	pred := func(name, id string, f func(a, b string) (bool, error)) cel.EnvOption {
		return cel.Function(name, cel.Overload(id, []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
			cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				x, ok1 := a.(types.String)
				y, ok2 := b.(types.String)
				if !ok1 || !ok2 {
					return types.NewErr("%s: want two strings", name)
				}
				ok, err := f(string(x), string(y))
				if err != nil {
					return types.NewErr("%s: %v", name, err)
				}
				return types.Bool(ok)
			})))
	}
	return []cel.EnvOption{
		str("path.clean", "probity_path_clean", CleanPath),
		str("path.base", "probity_path_base", func(p string) string { return baseOf(CleanPath(p)) }),
		pred("path.within", "probity_path_within", func(p, root string) (bool, error) { return Within(p, root), nil }),
		pred("path.match", "probity_path_match", MatchPath),
		cel.Variable("paths", cel.ListType(cel.StringType)),
	}
}

// CleanPath resolves p lexically as a file server would (see path.clean).
func CleanPath(p string) string {
	p = norm.NFC.String(strings.ReplaceAll(p, `\`, "/"))
	return path.Clean(p)
}

func baseOf(clean string) string {
	if clean == "/" {
		return ""
	}
	return path.Base(clean)
}

// Within reports whether p, resolved against root when relative, is root
// or below it (see path.within).
func Within(p, root string) bool {
	r := CleanPath(root)
	c := CleanPath(p)
	if strings.HasPrefix(c, "~") != strings.HasPrefix(r, "~") {
		return false // the server's home is unknown here
	}
	if !path.IsAbs(c) {
		c = path.Join(r, c)
	}
	return c == r || r == "/" && path.IsAbs(c) || strings.HasPrefix(c, r+"/")
}

// MatchPath reports whether the clean form of p matches glob (see
// path.match). A malformed glob is an error.
func MatchPath(p, glob string) (bool, error) {
	c := CleanPath(p)
	if !strings.Contains(glob, "/") {
		ok, err := path.Match(glob, baseOf(c))
		if err != nil {
			return false, fmt.Errorf("bad glob %q: %w", glob, err)
		}
		return ok, nil
	}
	return matchSegments(strings.Split(glob, "/"), strings.Split(c, "/"))
}

// matchSegments matches path elements against glob elements, "**" taking
// any number of elements. It remembers what it has tried, so a glob with
// many "**" costs len(glob)×len(segs) element matches, not an exponent.
func matchSegments(glob, segs []string) (bool, error) {
	seen := make([]bool, (len(glob)+1)*(len(segs)+1))
	var err error
	var match func(g, s int) bool
	match = func(g, s int) bool {
		for g < len(glob) {
			if seen[g*(len(segs)+1)+s] {
				return false // tried from here before, and failed
			}
			seen[g*(len(segs)+1)+s] = true
			if glob[g] == "**" {
				for i := s; i <= len(segs); i++ {
					if match(g+1, i) {
						return true
					}
				}
				return false
			}
			if s == len(segs) {
				return false
			}
			ok, e := path.Match(glob[g], segs[s])
			if e != nil {
				err = fmt.Errorf("bad glob element %q: %w", glob[g], e)
				return false
			}
			if !ok {
				return false
			}
			g, s = g+1, s+1
		}
		return s == len(segs)
	}
	ok := match(0, 0)
	if err != nil {
		return false, err
	}
	return ok, nil
}

// pathKeys are argument names that hold paths; PathLike also takes names
// ending in one of pathSuffixes.
var (
	pathKeys = map[string]bool{
		"path": true, "paths": true, "file": true, "files": true, "filename": true, "filenames": true,
		"dir": true, "dirs": true, "directory": true, "directories": true, "folder": true, "folders": true,
		"source": true, "sources": true, "src": true, "destination": true, "destinations": true, "dest": true,
		"dst": true, "target": true, "targets": true, "root": true, "cwd": true, "workdir": true,
		"from": true, "to": true,
	}
	pathSuffixes = []string{"path", "paths", "file", "files", "filename", "filenames", "dir", "dirs", "directory", "directories", "folder"}
)

// PathLike reports whether an argument named key holds a path (or a list
// of paths): path, paths, source, destination, file, dir and their kin, and
// any name ending in path, file, dir, directory or folder (file_path,
// sourcePath, output_dir), case and "_" or "-" aside.
func PathLike(key string) bool {
	k := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(key))
	if pathKeys[k] {
		return true
	}
	for _, s := range pathSuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

// pathArgs collects the strings under path-like keys anywhere in v (the
// decoded arguments), in a stable order.
func pathArgs(v any) []string {
	var out []string
	var walk func(v any, under bool)
	walk = func(v any, under bool) {
		switch x := v.(type) {
		case string:
			if under {
				out = append(out, x)
			}
		case []any:
			for _, e := range x {
				walk(e, under)
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(x[k], PathLike(k))
			}
		}
	}
	walk(v, false)
	return out
}
