// Package yamlx is the one gate every YAML document passes before it is
// decoded: policies, detector configurations, eval suites and datasets, and
// vcrpy cassettes. YAML aliases let a few hundred bytes stand for billions
// of nodes ("billion laughs"); the parser keeps them as references, but the
// decoders expand them, so a small hostile file took gigabytes and minutes.
// Check measures what the document expands to on its syntax tree, where
// that costs time linear in the file, and refuses it before any decoder
// sees it; ReadFile bounds the bytes read.
//
// The package knows YAML only, never a format; errors are *probity.Error
// values (EINVALID) that say which limit was hit and where.
package yamlx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/probity/probity"
)

// Size limits for the kinds of YAML file Probity reads. A file over its
// limit is refused unread: the largest real file of each kind is far
// smaller, and decoding YAML takes many times its size in memory.
const (
	MaxConfigBytes   = 4 << 20   // policies, detector configurations
	MaxSuiteBytes    = 16 << 20  // eval suites (cases may be inline)
	MaxDatasetBytes  = 64 << 20  // YAML eval datasets
	MaxCassetteBytes = 256 << 20 // vcrpy cassettes (bodies inline, often base64)
)

// MinAliasBudget is how many nodes aliases may add to any document, however
// small: shared blocks of settings or cases stay well inside it.
const MinAliasBudget = 100_000

// ReadFile reads the file at path, refusing one larger than limit bytes
// without reading past limit+1. what names the kind of file in messages
// ("policy file"). Errors: ENOTFOUND for a missing file, else EINVALID,
// naming the file.
func ReadFile(path, what string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &probity.Error{Code: probity.ENOTFOUND, File: path, Message: what + " not found"}
		}
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "read " + what, Err: err}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "read " + what, Err: err}
	}
	if len(b) > limit {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: what + tooBig(limit)}
	}
	return b, nil
}

func tooBig(limit int) string {
	return fmt.Sprintf(" over the size limit of %s; refused", size(limit))
}

func size(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Check refuses src when it is larger than limit bytes or when its aliases
// would expand it by more than its own number of nodes (and at least
// MinAliasBudget): a decoder would otherwise build every copy. Errors are
// *probity.Error (EINVALID) naming file (which may be empty) and, with
// Where "line L, column C", the alias that crossed the limit. A document
// Check cannot parse passes: the caller's decoder reports syntax errors its
// own way.
func Check(file string, src []byte, limit int) (err error) {
	if len(src) > limit {
		return &probity.Error{Code: probity.EINVALID, File: file, Message: "YAML document" + tooBig(limit)}
	}
	if bytes.IndexByte(src, '*') < 0 {
		return nil // no alias, nothing to expand: skip the parse
	}
	defer func() {
		// The parser is third-party code fed arbitrary bytes: a panic in it
		// is bad input, not a crash.
		if r := recover(); r != nil {
			err = &probity.Error{Code: probity.EINVALID, File: file, Message: fmt.Sprintf("malformed YAML (%v)", r)}
		}
	}()
	// Duplicate keys are the decoder's business (some formats allow them);
	// this pass only measures.
	f, err := parser.ParseBytes(src, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil
	}
	var c counter
	c.anchors = map[string]int64{}
	for _, d := range f.Docs {
		c.literal = sat(c.literal + c.count(d, false))
	}
	c.budget = max(int64(MinAliasBudget), c.literal)
	c.anchors = map[string]int64{}
	for _, d := range f.Docs {
		c.count(d, true)
	}
	if c.where != nil {
		e := &probity.Error{Code: probity.EINVALID, File: file, Message: fmt.Sprintf(
			"YAML aliases would add more than %d nodes to this document of %d (the limit is the larger of its own size and %d): refused as a likely alias bomb",
			c.budget, c.literal, MinAliasBudget)}
		if tk := c.where.GetToken(); tk != nil && tk.Position != nil {
			e.Where = fmt.Sprintf("line %d, column %d", tk.Position.Line, tk.Position.Column)
		}
		return e
	}
	return nil
}

// counter counts nodes, with aliases counted as the size of what they
// stand for (expand) or as one node each. Expanded, a document's size is
// its literal size plus, for every alias in it, the size of its anchor less
// one: extra sums those.
type counter struct {
	anchors map[string]int64
	literal int64
	budget  int64
	extra   int64
	where   ast.Node // the alias at which extra first exceeded budget
}

// count returns the number of nodes n stands for. Anchors are recorded in
// document order, so an alias refers to the latest anchor of its name
// before it, as YAML says; sizes saturate rather than overflow.
func (c *counter) count(n ast.Node, expand bool) int64 {
	switch x := n.(type) {
	case nil:
		return 0
	case *ast.DocumentNode:
		return c.count(x.Body, expand)
	case *ast.AnchorNode:
		s := c.count(x.Value, expand)
		if x.Name != nil {
			c.anchors[x.Name.GetToken().Value] = s
		}
		return s
	case *ast.AliasNode:
		if !expand || x.Value == nil {
			return 1
		}
		s, ok := c.anchors[x.Value.GetToken().Value]
		if !ok {
			return 1 // an unknown alias is the decoder's error to report
		}
		c.extra = sat(c.extra + s - 1)
		if c.where == nil && c.extra > c.budget {
			c.where = x
		}
		return s
	case *ast.TagNode:
		return c.count(x.Value, expand)
	case *ast.MappingKeyNode:
		return c.count(x.Value, expand)
	case *ast.MappingValueNode:
		return sat(c.count(x.Key, expand) + c.count(x.Value, expand))
	case *ast.MappingNode:
		s := int64(1)
		for _, v := range x.Values {
			s = sat(s + c.count(v, expand))
		}
		return s
	case *ast.SequenceNode:
		s := int64(1)
		for _, v := range x.Values {
			s = sat(s + c.count(v, expand))
		}
		return s
	case *ast.CommentGroupNode, *ast.CommentNode:
		return 0
	}
	return 1 // a scalar
}

// sat keeps sizes far from overflow: past 1<<60 nodes nothing is decoded.
func sat(n int64) int64 {
	if n < 0 || n > 1<<60 {
		return 1 << 60
	}
	return n
}
