package spec

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/probity/probity"
)

// Tool is one tool definition, whatever format it came in. Findings on it
// point at the key or string concerned in the file it was read from.
type Tool struct {
	// Name is the tool's name.
	Name string
	// Description is what the model is told about it.
	Description string
	// File is where the definition was read from: a path, or "mcp:NAME"
	// for a live server (positions then refer to the rendered tools/list
	// result, which --save-tools writes out).
	File string
	// Format is "openai", "anthropic" or "mcp".
	Format string

	def    *node // the tool object itself
	name   *node
	desc   *node
	schema *node // the JSON Schema of the arguments (parameters, input_schema, inputSchema)
	annot  *node // MCP annotations
}

// Pos returns the position of the tool's name.
func (t *Tool) Pos() Pos {
	if t.name != nil {
		return t.name.pos
	}
	return t.def.pos
}

// hint returns an MCP annotation (readOnlyHint, destructiveHint, ...) and
// whether the server set it.
func (t *Tool) hint(name string) (value, set bool) {
	n := t.annot.get(name)
	if n == nil || n.kind != kindBool {
		return false, false
	}
	return n.boolean, true
}

// maxToolsBytes bounds a tool definition file; the largest real MCP
// tools/list results are tens of KB.
const maxToolsBytes = 32 << 20

// ParseTools reads tool definitions: an OpenAI tools list (chat
// {"type":"function","function":{...}} or Responses {"type":"function",
// "name":...}), an Anthropic tools list ({"name","input_schema"}), an MCP
// tools/list result ({"tools":[...]}, bare or inside a JSON-RPC response),
// a list of such tools, or one tool. JSON and YAML (.yaml, .yml) are read.
// Errors are *probity.Error values naming the file, line and column.
func ParseTools(file string, src []byte) ([]*Tool, error) {
	tools, err := parseTools(file, src)
	if err != nil {
		if pe, ok := err.(*probity.Error); ok {
			pe.File = file
			return nil, pe
		}
		return nil, &probity.Error{Code: probity.EINVALID, File: file, Message: "tool definitions", Err: err}
	}
	return tools, nil
}

func parseTools(file string, src []byte) ([]*Tool, error) {
	if len(src) > maxToolsBytes {
		return nil, probity.Errorf(probity.EINVALID, "tool definitions are %d bytes, more than %d", len(src), maxToolsBytes)
	}
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, probity.Errorf(probity.EINVALID, "empty file: want tool definitions")
	}
	var root *node
	var err error
	switch strings.ToLower(filepath.Ext(file)) {
	case ".yaml", ".yml":
		root, err = parseYAML(src)
	default:
		root, err = parseJSON(src)
	}
	if err != nil {
		return nil, err
	}
	list, err := toolList(root, 0)
	if err != nil {
		return nil, err
	}
	var tools []*Tool
	for i, item := range list {
		t, err := toolFrom(item, i)
		if err != nil {
			return nil, err
		}
		t.File = file
		tools = append(tools, t)
	}
	return tools, nil
}

func errAt(p Pos, format string, args ...any) error {
	e := probity.Errorf(probity.EINVALID, format, args...)
	if p.Line > 0 {
		e.Where = fmt.Sprintf("line %d, column %d", p.Line, p.Column)
	}
	return e
}

// toolList finds the array of tool objects in the document.
func toolList(root *node, depth int) ([]*node, error) {
	if depth > 3 {
		return nil, errAt(root.pos, "no tool definitions found")
	}
	switch root.kind {
	case kindArray:
		return root.items, nil
	case kindObject:
		for _, key := range []string{"tools", "functions"} {
			if v := root.get(key); v != nil {
				if v.kind != kindArray {
					return nil, errAt(v.pos, "%q must be a list of tools", key)
				}
				return v.items, nil
			}
		}
		if res := root.get("result"); res != nil { // a JSON-RPC response to tools/list
			return toolList(res, depth+1)
		}
		if root.get("error") != nil && root.get("jsonrpc") != nil {
			return nil, errAt(root.pos, "a JSON-RPC error, not a tools/list result")
		}
		if root.get("name") != nil { // a single tool
			return []*node{root}, nil
		}
		if root.get("function") != nil {
			return []*node{root}, nil
		}
	}
	return nil, errAt(root.pos, "no tool definitions found: want an OpenAI or Anthropic tools list or an MCP tools/list result")
}

// toolFrom reads one tool object in any of the formats.
func toolFrom(n *node, i int) (*Tool, error) {
	if n.kind != kindObject {
		return nil, errAt(n.pos, "tool %d: want an object", i)
	}
	t := &Tool{def: n}
	obj := n
	switch {
	case n.get("function") != nil: // OpenAI chat completions
		obj = n.get("function")
		if obj.kind != kindObject {
			return nil, errAt(obj.pos, "tool %d: \"function\" must be an object", i)
		}
		t.Format, t.schema = "openai", obj.get("parameters")
	case n.get("input_schema") != nil:
		t.Format, t.schema = "anthropic", n.get("input_schema")
	case n.get("inputSchema") != nil:
		t.Format, t.schema = "mcp", n.get("inputSchema")
		t.annot = n.get("annotations")
	case n.get("parameters") != nil: // OpenAI Responses, or legacy functions
		t.Format, t.schema = "openai", n.get("parameters")
	default:
		t.Format = "mcp"
		if tp := n.get("type"); tp != nil && tp.text() == "function" {
			t.Format = "openai"
		}
	}
	t.name = obj.get("name")
	if t.name == nil {
		return nil, errAt(obj.pos, "tool %d: no \"name\"", i)
	}
	if t.name.kind != kindString || strings.TrimSpace(t.name.str) == "" {
		return nil, errAt(t.name.pos, "tool %d: \"name\" must be a non-empty string", i)
	}
	t.Name = t.name.str
	if d := obj.get("description"); d != nil {
		if d.kind != kindString && d.kind != kindNull {
			return nil, errAt(d.pos, "tool %s: \"description\" must be a string", t.Name)
		}
		t.desc, t.Description = d, d.text()
	}
	if t.schema != nil && t.schema.kind != kindObject && t.schema.kind != kindNull {
		return nil, errAt(t.schema.pos, "tool %s: the argument schema must be an object", t.Name)
	}
	if t.annot != nil && t.annot.kind != kindObject {
		t.annot = nil
	}
	return t, nil
}

// param is one argument of a tool, found by walking its JSON Schema.
type param struct {
	name     string // the property name
	path     string // dotted path from the arguments' root: "edits[].newText"
	schema   *node  // the property's schema
	keyPos   Pos    // where the property's name is written
	required bool
	parent   *node // the object schema holding it
}

// params walks a tool's argument schema: properties, nested objects and
// array items, to a bounded depth.
func (t *Tool) params() []param {
	var out []param
	var walk func(s *node, prefix string, depth int)
	walk = func(s *node, prefix string, depth int) {
		if s == nil || s.kind != kindObject || depth > 8 {
			return
		}
		req := map[string]bool{}
		if r := s.get("required"); r != nil && r.kind == kindArray {
			for _, it := range r.items {
				req[it.text()] = true
			}
		}
		if props := s.get("properties"); props != nil && props.kind == kindObject {
			for _, m := range props.members {
				p := param{name: m.key, path: prefix + m.key, schema: m.value, keyPos: m.keyPos, required: req[m.key], parent: s}
				out = append(out, p)
				walk(m.value, p.path+".", depth+1)
			}
		}
		if items := s.get("items"); items != nil {
			walk(items, strings.TrimSuffix(prefix, ".")+"[].", depth+1)
		}
	}
	walk(t.schema, "", 0)
	return out
}

// texts returns every string in the tool's definition that the model
// reads, with where it is: the description, and in the schema every
// description, title, default, enum and example value, and property names.
func (t *Tool) texts() []textAt {
	var out []textAt
	if t.desc != nil && t.desc.kind == kindString {
		out = append(out, textAt{n: t.desc, where: "description"})
	}
	var walk func(n *node, path string, depth int)
	walk = func(n *node, path string, depth int) {
		if n == nil || depth > 16 {
			return
		}
		switch n.kind {
		case kindObject:
			for _, m := range n.members {
				p := path + "." + m.key
				if strings.HasSuffix(path, ".properties") {
					// A property's name is read by the model too (full-schema poisoning).
					out = append(out, textAt{n: &node{kind: kindString, str: m.key, pos: m.keyPos}, where: "parameter name " + m.key, key: true})
				}
				switch m.key {
				case "description", "title", "default", "const", "examples", "enum", "example":
					walk(m.value, p, depth+1)
					if m.value.kind == kindString {
						out = append(out, textAt{n: m.value, where: strings.TrimPrefix(p, ".")})
					}
					continue
				}
				walk(m.value, p, depth+1)
			}
		case kindArray:
			for i, it := range n.items {
				if it.kind == kindString && (strings.HasSuffix(path, ".enum") || strings.HasSuffix(path, ".examples")) {
					out = append(out, textAt{n: it, where: fmt.Sprintf("%s[%d]", strings.TrimPrefix(path, "."), i)})
					continue
				}
				walk(it, fmt.Sprintf("%s[%d]", path, i), depth+1)
			}
		}
	}
	walk(t.schema, "schema", 0)
	return out
}

// textAt is a string of a tool definition and where it sits.
type textAt struct {
	n     *node
	where string // "description", "schema.properties.path.description"
	key   bool   // a property name rather than a value
}
