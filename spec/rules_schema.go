package spec

import (
	"fmt"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/toolclass"
)

func ruleFreeString() *Rule {
	return &Rule{
		ID:       "weak-schema-free-string",
		Severity: probity.SeverityMedium,
		Title:    "a consequential argument with no pattern, enum or bound",
		Rationale: "An id, amount, e-mail address or recipient, path or URL that a side-effecting tool acts on is a free string " +
			"(or an unbounded number): nothing stops a misread, invented or injected value before it reaches the " +
			"action. A pattern or bound rejects \"#W4871216 \" and -129.99 at the boundary. Medium for ids, amounts, " +
			"e-mail addresses and recipients; low for paths and URLs, whose real check belongs in the server or the policy.",
		Fix:   "constrain the argument: a pattern (\"^#W[0-9]{7}$\"), an enum, format: email or uri, or minimum/maximum",
		check: checkFreeString,
	}
}

func ruleOptionalArgument() *Rule {
	return &Rule{
		ID:       "weak-schema-optional",
		Severity: probity.SeverityLow,
		Title:    "a consequential argument that is optional",
		Rationale: "A side-effecting tool's id, amount, recipient or path is not required, so the model may leave it " +
			"out and the server falls back to a default the user never chose (the whole account, the first order).",
		Fix:   "list the argument in \"required\"",
		check: checkOptional,
	}
}

func ruleOpenObject() *Rule {
	return &Rule{
		ID:       "weak-schema-open-object",
		Severity: probity.SeverityMedium,
		Title:    "a side-effecting tool's arguments accept any extra key",
		Rationale: "additionalProperties is true (or a schema) on a side-effecting tool's arguments: the model may " +
			"pass keys the schema never mentions, which the server may honour (\"force\", \"bcc\") without any " +
			"check having seen them. (An absent additionalProperties is open too, but nearly every generator omits " +
			"it, so only an explicit opening is reported.)",
		Fix:   "set \"additionalProperties\": false and list every argument",
		check: checkOpenObject,
	}
}

// argKind says what a consequential argument holds, from its name: "id",
// "amount", "email", "path", "url", or "" for anything else.
func argKind(t *Tool, name string) string {
	words := toolclass.Words(name)
	if len(words) == 0 {
		return ""
	}
	last := words[len(words)-1]
	toolWords := strings.Join(toolclass.Words(t.Name), " ") + " " + strings.ToLower(t.Description)
	has := func(set ...string) bool {
		for _, w := range words {
			for _, s := range set {
				if w == s {
					return true
				}
			}
		}
		return false
	}
	switch {
	case has("email", "emails", "mail"):
		return "email"
	case has("amount", "price", "total", "cost", "fee", "balance", "quantity", "qty"):
		return "amount"
	case last == "id" || last == "ids" || last == "uuid" || last == "guid" ||
		last == "number" && len(words) > 1 && strings.Contains(" order account invoice reservation ticket card iban ", " "+words[len(words)-2]+" "):
		return "id"
	case has("url", "uri", "endpoint", "webhook", "callback"):
		return "url"
	case has("path", "paths", "filename", "filepath", "dir", "directory", "folder"):
		return "path"
	case oneOf(name, "source", "destination", "dest", "src", "dst"):
		if strings.Contains(toolWords, "file") || strings.Contains(toolWords, "director") {
			return "path"
		}
	case oneOf(name, "to", "cc", "bcc", "recipient", "recipients"):
		if strings.Contains(toolWords, "mail") || strings.Contains(toolWords, "message") {
			return "recipient"
		}
	}
	return ""
}

func oneOf(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// typeOf returns a schema's type; "" when absent, the first non-null type
// of a list.
func typeOf(s *node) string {
	tp := s.get("type")
	if tp == nil {
		return ""
	}
	if tp.kind == kindArray {
		for _, it := range tp.items {
			if it.text() != "null" {
				return it.text()
			}
		}
		return ""
	}
	return tp.text()
}

func constrained(s *node) bool {
	for _, k := range []string{"pattern", "enum", "const", "format", "maxLength", "$ref", "oneOf", "anyOf", "allOf"} {
		if s.get(k) != nil {
			return true
		}
	}
	return false
}

func checkFreeString(in *Input, r *reporter) {
	for _, t := range in.Tools {
		if !classify(t, in.Policy).side {
			continue
		}
		for _, p := range t.params() {
			kind := argKind(t, p.name)
			if kind == "" || p.schema == nil || p.schema.kind != kindObject {
				continue
			}
			s := p.schema
			if typeOf(s) == "array" {
				if it := s.get("items"); it != nil && it.kind == kindObject {
					s = it
				}
			}
			tp := typeOf(s)
			weak := ""
			switch {
			case constrained(s):
			case tp == "string" || tp == "":
				weak = "a free string"
			case kind == "amount" && (tp == "number" || tp == "integer"):
				lo := s.get("minimum") != nil || s.get("exclusiveMinimum") != nil
				hi := s.get("maximum") != nil || s.get("exclusiveMaximum") != nil
				switch {
				case !lo && !hi:
					weak = "a number with no minimum or maximum"
				case !lo:
					weak = "a number with no minimum (negative amounts pass)"
				case !hi:
					weak = "a number with no maximum"
				}
			}
			if weak == "" {
				continue
			}
			sev := probity.SeverityMedium
			if kind == "path" || kind == "url" {
				sev = probity.SeverityLow
			}
			r.add(Finding{
				Severity: sev,
				Span:     spanAt(t.File, p.keyPos),
				Tool:     t.Name,
				Message:  fmt.Sprintf("%s.%s (%s) is %s on a side-effecting tool", t.Name, p.path, kind, weak),
				Fix:      fixFor(kind),
			})
		}
	}
}

func fixFor(kind string) string {
	switch kind {
	case "id":
		return "give the id a pattern (\"pattern\": \"^#W[0-9]{7}$\") or an enum of the ids the agent may touch"
	case "amount":
		return "make it a number with \"minimum\" and \"maximum\" (e.g. 0.01 and the largest amount an agent may move)"
	case "email":
		return "add \"format\": \"email\" and, where recipients are known, an enum or a pattern on the domain"
	case "path":
		return "add a pattern that keeps paths inside the workspace (no \"..\", no leading \"/\"), and deny secrets files in the policy"
	case "url":
		return "add \"format\": \"uri\" and a pattern on the allowed hosts"
	case "recipient":
		return "constrain the recipient: \"format\": \"email\", a pattern (\"^\\+[0-9]{8,15}$\" for phone numbers), or an enum of known contacts"
	}
	return ""
}

func checkOptional(in *Input, r *reporter) {
	for _, t := range in.Tools {
		if !classify(t, in.Policy).side {
			continue
		}
		for _, p := range t.params() {
			kind := argKind(t, p.name)
			if kind == "" || p.required {
				continue
			}
			if kind == "recipient" && (p.name == "cc" || p.name == "bcc") {
				continue // copies are optional by nature
			}
			r.add(Finding{
				Span:    spanAt(t.File, p.keyPos),
				Tool:    t.Name,
				Message: fmt.Sprintf("%s.%s (%s) is optional on a side-effecting tool: the model may leave it out", t.Name, p.path, kind),
				Fix:     fmt.Sprintf("add %q to the \"required\" list of its object", p.name),
			})
		}
	}
}

func checkOpenObject(in *Input, r *reporter) {
	for _, t := range in.Tools {
		if !classify(t, in.Policy).side || t.schema == nil {
			continue
		}
		var walk func(s *node, where string, depth int)
		walk = func(s *node, where string, depth int) {
			if s == nil || s.kind != kindObject || depth > 8 {
				return
			}
			if ap := s.get("additionalProperties"); ap != nil && (ap.kind == kindBool && ap.boolean || ap.kind == kindObject) {
				r.add(Finding{
					Span:    spanAt(t.File, s.keyPos("additionalProperties")),
					Tool:    t.Name,
					Message: fmt.Sprintf("%s's %s accept any extra key (additionalProperties is open)", t.Name, where),
				})
			}
			if props := s.get("properties"); props != nil {
				for _, m := range props.members {
					walk(m.value, "argument "+m.key, depth+1)
				}
			}
			if it := s.get("items"); it != nil {
				walk(it, where+" items", depth+1)
			}
		}
		walk(t.schema, "arguments", 0)
	}
}
